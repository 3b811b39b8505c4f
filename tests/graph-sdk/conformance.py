"""Drives hardmatch's Entra ID emulator with Microsoft's own Python Graph SDK.

Nothing here knows it is talking to an emulator except the base URL and the authority
host, which a national cloud or a proxy would need just the same. The script performs
the calls hardmatch depends on and prints what it observed as one JSON object; the Rust
test that runs it compares those observations with the emulator's state.

Environment: HARDMATCH_GRAPH_URL (https://127.0.0.1:PORT/v1.0), HARDMATCH_AUTHORITY_HOST
(127.0.0.1:PORT), HARDMATCH_TENANT_ID, HARDMATCH_CLIENT_ID, HARDMATCH_CLIENT_SECRET, and
SSL_CERT_FILE / REQUESTS_CA_BUNDLE naming the emulator's CA certificate.
"""

import asyncio
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
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

SELECT = ["id", "userPrincipalName", "onPremisesImmutableId", "onPremisesSyncEnabled"]


def odata_error(error: ODataError) -> dict:
    main = error.error
    return {
        "status": error.response_status_code,
        "code": main.code if main else None,
        "message": main.message if main else None,
    }


async def list_all_users(client, page_size: int, filter_text=None):
    parameters = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        select=SELECT, top=page_size, filter=filter_text
    )
    page = await client.users.get(
        request_configuration=RequestConfiguration(query_parameters=parameters)
    )
    users, pages = [], 0
    while page is not None:
        pages += 1
        users.extend(page.value or [])
        if not page.odata_next_link:
            break
        page = await client.users.with_url(page.odata_next_link).get()
    return users, pages


async def main() -> int:
    graph_url = os.environ["HARDMATCH_GRAPH_URL"]
    credential = ClientSecretCredential(
        os.environ["HARDMATCH_TENANT_ID"],
        os.environ["HARDMATCH_CLIENT_ID"],
        os.environ["HARDMATCH_CLIENT_SECRET"],
        authority=os.environ["HARDMATCH_AUTHORITY_HOST"],
        # Instance discovery asks the public cloud about the authority; a private
        # authority answers for itself.
        disable_instance_discovery=True,
    )
    provider = AzureIdentityAuthenticationProvider(
        credential,
        scopes=["https://graph.microsoft.com/.default"],
        allowed_hosts=[urlparse(graph_url).hostname],
    )
    adapter = GraphRequestAdapter(provider)
    adapter.base_url = graph_url
    client = GraphServiceClient(request_adapter=adapter)
    observed = {}

    # Paging through users with $select, small pages so that nextLink is followed.
    users, pages = await list_all_users(client, page_size=2)
    observed["listed_user_ids"] = sorted(user.id for user in users)
    observed["pages"] = pages

    # $filter on a default-filterable property.
    first = sorted(users, key=lambda user: user.user_principal_name)[0]
    prefix = first.user_principal_name[:3]
    filtered, _ = await list_all_users(
        client, page_size=999, filter_text=f"startswith(userPrincipalName,'{prefix}')"
    )
    observed["filter_prefix"] = prefix
    observed["filtered_upns"] = sorted(user.user_principal_name for user in filtered)

    # PATCH onPremisesImmutableId on two cloud-only users: the second write of the same
    # value must be refused as a conflict.
    cloud_only = [
        user
        for user in users
        if user.on_premises_sync_enabled is None and user.on_premises_immutable_id is None
    ]
    target, other = cloud_only[0], cloud_only[1]
    value = "c2RrLWNvbmZvcm1hbmNlLTE="
    await client.users.by_user_id(target.id).patch(User(on_premises_immutable_id=value))
    read_back = await client.users.by_user_id(target.id).get(
        request_configuration=RequestConfiguration(
            query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
                select=SELECT
            )
        )
    )
    observed["patched_user_id"] = target.id
    observed["patched_value_read_back"] = read_back.on_premises_immutable_id
    try:
        await client.users.by_user_id(other.id).patch(User(on_premises_immutable_id=value))
        observed["conflict"] = None
    except ODataError as error:
        observed["conflict"] = odata_error(error)

    # Delete a user, find it among deleted items, purge it, and see it gone.
    await client.users.by_user_id(other.id).delete()
    deleted = await client.directory.deleted_items.graph_user.get()
    observed["deleted_user_id"] = other.id
    observed["deleted_listed"] = other.id in [user.id for user in deleted.value or []]
    await client.directory.deleted_items.by_directory_object_id(other.id).delete()
    deleted = await client.directory.deleted_items.graph_user.get()
    observed["purged_still_listed"] = other.id in [user.id for user in deleted.value or []]
    try:
        await client.users.by_user_id(other.id).get()
        observed["purged_get"] = None
    except ODataError as error:
        observed["purged_get"] = odata_error(error)

    # One $batch with two reads of users that still exist.
    content = BatchRequestContent()
    survivor = next(user for user in users if user.id not in (target.id, other.id))
    for user in (target, survivor):
        content.add_request(
            None,
            BatchRequestItem(
                request_information=client.users.by_user_id(user.id).to_get_request_information()
            ),
        )
    batch = await client.batch.post(batch_request_content=content)
    observed["batch_statuses"] = sorted(batch.get_response_status_codes().values())

    await credential.close()
    print(json.dumps(observed, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
