#!/usr/bin/env python3
"""Prepares the node agent (Sources/HeatDriver/Templates/bootstrap/agent.sh) of every stand-in
server of some stacks, the way Heat prepares a real server's.

    standin-agents.py OUTDIR AUTH_URL USER_ID PASSWORD < RESOURCES_JSON...

RESOURCES_JSON: the answers of `GET …/stacks/<stack>/resources?nested_depth=N` (one or more
JSON documents, concatenated). For each resource of type OS::Nova::Server it writes
OUTDIR/<physical resource id>/cfn-init-data: the `os-collect-config` `heat` section Heat writes
into a SOFTWARE_CONFIG server's Ignition config — the stack and resource the agent reads the
deployments of — with the given user's credentials in place of the stack domain user's (no
stand-in gets one), scoped to the project of the stack. Prints the number of servers.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: standin-agents.py OUTDIR AUTH_URL USER_ID PASSWORD < RESOURCES_JSON")
    out, auth_url, user, password = sys.argv[1:]
    decoder, text, at, count = json.JSONDecoder(), sys.stdin.read(), 0, 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        doc, at = decoder.raw_decode(text, at)
        for r in doc["resources"]:
            if r["resource_type"] != "OS::Nova::Server":
                continue
            # …/v1/<project>/stacks/<name>/<id>: the member stack the server resource is in.
            href = next(link["href"] for link in r["links"] if link["rel"] == "stack")
            project, stack = href.split("/v1/", 1)[1].split("/stacks/", 1)
            d = os.path.join(out, r["physical_resource_id"])
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "cfn-init-data"), "w") as f:
                json.dump({"os-collect-config": {"heat": {
                    "auth_url": auth_url, "user_id": user, "password": password, "project_id": project,
                    "stack_id": stack, "resource_name": r["resource_name"]}}}, f)
            count += 1
    print(count)


if __name__ == "__main__":
    main()
