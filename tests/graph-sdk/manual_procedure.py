"""The manual hard-match procedure of the classic guides, one user at a time, with
Microsoft's own Python Graph SDK: the baseline hardmatch is compared with in
docs/BENCHMARKS.md (issue 8, "against what an admin would use instead").

For each AD user to link (ImmutableId and UPN, one CSV line each), as the guides do it:

1. find the active user holding the ImmutableId (the guides list every user and look;
   this script uses `$filter=onPremisesImmutableId eq '…'`, which favours the baseline);
2. look for a holder in the deleted items (`$filter` again, same favour);
3. delete the holder, the duplicate the sync created;
4. purge it from the deleted items, which would otherwise keep the ImmutableId reserved;
5. find the real account by its UPN;
6. set the ImmutableId on it.

Sequential and without `$batch`, as an admin's script runs. Prints one JSON object: users
linked, users skipped and why, and the SDK calls made.

Usage: manual_procedure.py USERS.csv. Environment as conformance.py: HARDMATCH_GRAPH_URL,
HARDMATCH_AUTHORITY_HOST, HARDMATCH_TENANT_ID, HARDMATCH_CLIENT_ID,
HARDMATCH_CLIENT_SECRET, and SSL_CERT_FILE / REQUESTS_CA_BUNDLE for the emulator's CA.
"""

import asyncio
import csv
import json
import os
import sys
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


async def link(client: GraphServiceClient, immutable_id: str, upn: str, calls: dict) -> str:
    """Runs the six steps for one user; returns "linked" or why it stopped."""

    def count(step: str) -> None:
        calls[step] = calls.get(step, 0) + 1

    count("find holder")
    holders = await client.users.get(
        request_configuration=RequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                filter=immutable_id_filter(immutable_id), select=SELECT
            )
        )
    )
    holders = [user for user in holders.value or [] if user.user_principal_name.lower() != upn.lower()]
    count("look in deleted items")
    await client.directory.deleted_items.graph_user.get(
        request_configuration=RequestConfiguration(
            query_parameters=GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
                filter=immutable_id_filter(immutable_id), select=SELECT
            )
        )
    )
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
    if len(sys.argv) != 2:
        print("usage: manual_procedure.py USERS.csv", file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="", encoding="utf-8") as source:
        rows = [(row["immutable_id"], row["user_principal_name"]) for row in csv.DictReader(source)]
    client = client_from_environment()
    calls, linked, skipped = {}, 0, {}
    for immutable_id, upn in rows:
        try:
            outcome = await link(client, immutable_id, upn, calls)
        except ODataError as error:
            main_error = error.error
            outcome = "error {} {}".format(
                error.response_status_code, main_error.code if main_error else ""
            )
        if outcome == "linked":
            linked += 1
        else:
            skipped[outcome] = skipped.get(outcome, 0) + 1
    print(json.dumps({"users": len(rows), "linked": linked, "skipped": skipped, "calls": calls}))
    return 0 if linked == len(rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
