"""The manual hard-match procedure of the classic guides, one user at a time, with
Microsoft's own Python Graph SDK: the baseline hardmatch is compared with in
docs/BENCHMARKS.md (issue 8, "against what an admin would use instead").

For each AD user to link (ImmutableId and UPN, one CSV line each), as the guides do it:

1. find the active user holding the ImmutableId;
2. look for a holder in the deleted items;
3. delete the holder, the duplicate the sync created;
4. purge it from the deleted items, which would otherwise keep the ImmutableId reserved;
5. find the real account by its UPN;
6. set the ImmutableId on it.

Steps 1 and 2 find holders one of two ways (`--holders`):

- `scan` (the default): as the classic guides do (`Get-MsolUser -All | Where-Object
  {$_.ImmutableId -eq …}`, then the same over `-ReturnDeletedUsers`): list every user, 999
  a page with `$select` of the few properties the check needs, and compare on the client,
  once per user;
- `filter`: the modern `$filter=onPremisesImmutableId eq '…'` on both collections, which
  the server answers with one page: a variant that favours the baseline.

Sequential and without `$batch`, as an admin's script runs. Prints one JSON object: users
linked, users skipped and why, the SDK calls made by step, and per user the seconds and
requests it took (each user's procedure is independent of the others').

Usage: manual_procedure.py [--holders scan|filter] [--limit N] USERS.csv; `--limit N`
takes the first N users of the file. Environment as conformance.py: HARDMATCH_GRAPH_URL,
HARDMATCH_AUTHORITY_HOST, HARDMATCH_TENANT_ID, HARDMATCH_CLIENT_ID,
HARDMATCH_CLIENT_SECRET, and SSL_CERT_FILE / REQUESTS_CA_BUNDLE for the emulator's CA.
"""

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from urllib.parse import urlparse

from azure.identity.aio import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.directory.deleted_items.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

SELECT = ["id", "userPrincipalName", "onPremisesImmutableId", "onPremisesSyncEnabled"]
# The largest page Graph serves for users.
PAGE_SIZE = 999


def client_from_environment() -> GraphServiceClient:
    graph_url = os.environ["HARDMATCH_GRAPH_URL"]
    credential = ClientSecretCredential(
        os.environ["HARDMATCH_TENANT_ID"],
        os.environ["HARDMATCH_CLIENT_ID"],
        os.environ["HARDMATCH_CLIENT_SECRET"],
        authority=os.environ["HARDMATCH_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    provider = AzureIdentityAuthenticationProvider(
        credential,
        scopes=["https://graph.microsoft.com/.default"],
        allowed_hosts=[urlparse(graph_url).hostname],
    )
    adapter = GraphRequestAdapter(provider)
    adapter.base_url = graph_url
    return GraphServiceClient(request_adapter=adapter)


def immutable_id_filter(immutable_id: str) -> str:
    return "onPremisesImmutableId eq '{}'".format(immutable_id.replace("'", "''"))


async def all_pages(first_page, next_page, count, step: str) -> list:
    """Every user of a collection, following the next links; one call counted per page."""
    count(step)
    page = await first_page
    users = list(page.value or [])
    while page.odata_next_link:
        count(step)
        page = await next_page(page.odata_next_link)
        users.extend(page.value or [])
    return users


async def active_holders(client: GraphServiceClient, mode: str, immutable_id: str, count) -> list:
    if mode == "filter":
        count("find holder")
        page = await client.users.get(
            request_configuration=RequestConfiguration(
                query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                    filter=immutable_id_filter(immutable_id), select=SELECT
                )
            )
        )
        return list(page.value or [])
    users = await all_pages(
        client.users.get(
            request_configuration=RequestConfiguration(
                query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                    select=SELECT, top=PAGE_SIZE
                )
            )
        ),
        lambda link: client.users.with_url(link).get(),
        count,
        "find holder (page of every user)",
    )
    return [user for user in users if user.on_premises_immutable_id == immutable_id]


async def deleted_holders(client: GraphServiceClient, mode: str, immutable_id: str, count) -> list:
    deleted = client.directory.deleted_items.graph_user
    if mode == "filter":
        count("look in deleted items")
        page = await deleted.get(
            request_configuration=RequestConfiguration(
                query_parameters=GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
                    filter=immutable_id_filter(immutable_id), select=SELECT
                )
            )
        )
        return list(page.value or [])
    users = await all_pages(
        deleted.get(
            request_configuration=RequestConfiguration(
                query_parameters=GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
                    select=SELECT, top=PAGE_SIZE
                )
            )
        ),
        lambda link: deleted.with_url(link).get(),
        count,
        "look in deleted items (page of every deleted user)",
    )
    return [user for user in users if user.on_premises_immutable_id == immutable_id]


async def link(
    client: GraphServiceClient, mode: str, immutable_id: str, upn: str, calls: dict
) -> str:
    """Runs the six steps for one user; returns "linked" or why it stopped."""

    def count(step: str) -> None:
        calls[step] = calls.get(step, 0) + 1

    holders = await active_holders(client, mode, immutable_id, count)
    holders = [user for user in holders if user.user_principal_name.lower() != upn.lower()]
    # The guides look in the recycle bin too; a holder there is for another procedure.
    await deleted_holders(client, mode, immutable_id, count)
    if len(holders) != 1:
        return "holders: {}".format(len(holders))
    duplicate = holders[0]
    count("delete duplicate")
    await client.users.by_user_id(duplicate.id).delete()
    count("purge duplicate")
    await client.directory.deleted_items.by_directory_object_id(duplicate.id).delete()
    count("find target by UPN")
    target = await client.users.by_user_id(upn).get()
    count("set ImmutableId")
    await client.users.by_user_id(target.id).patch(User(on_premises_immutable_id=immutable_id))
    return "linked"


async def main() -> int:
    parser = argparse.ArgumentParser(description="The classic guides' manual hard match.")
    parser.add_argument("--holders", choices=["scan", "filter"], default="scan")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("users", help="CSV with immutable_id,user_principal_name")
    arguments = parser.parse_args()
    with open(arguments.users, newline="", encoding="utf-8") as source:
        rows = [(row["immutable_id"], row["user_principal_name"]) for row in csv.DictReader(source)]
    if arguments.limit is not None:
        rows = rows[: arguments.limit]
    client = client_from_environment()
    calls, linked, skipped = {}, 0, {}
    user_seconds, user_requests = [], []
    for immutable_id, upn in rows:
        started, calls_before = time.monotonic(), sum(calls.values())
        try:
            outcome = await link(client, arguments.holders, immutable_id, upn, calls)
        except ODataError as error:
            main_error = error.error
            outcome = "error {} {}".format(
                error.response_status_code, main_error.code if main_error else ""
            )
        user_seconds.append(round(time.monotonic() - started, 4))
        user_requests.append(sum(calls.values()) - calls_before)
        if outcome == "linked":
            linked += 1
        else:
            skipped[outcome] = skipped.get(outcome, 0) + 1
    print(
        json.dumps(
            {
                "holders": arguments.holders,
                "users": len(rows),
                "linked": linked,
                "skipped": skipped,
                "calls": calls,
                "user_seconds": user_seconds,
                "user_requests": user_requests,
            }
        )
    )
    return 0 if linked == len(rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
