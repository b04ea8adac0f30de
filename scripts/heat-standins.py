#!/usr/bin/env python3
"""Generates Heat stand-ins for the cloud resources of the Heat driver's templates.

    /tmp/magnum-heat/venv/bin/python scripts/heat-standins.py OUTDIR

Writes OUTDIR/standins.yaml (an environment file, to pass last in `environment_files`) and one
provider template per type whose attributes the templates read (OUTDIR/standin-*.yaml); prints
the path of OUTDIR/standins.yaml. Every other cloud type (networks, subnets, routers, security
groups, server groups, Octavia listeners/pools/members/monitors, volume attachments, floating IP
associations) and OS::Heat::WaitCondition map onto OS::Heat::None, so no server has to boot or
signal. OS::Heat::WaitConditionHandle stays real.

The provider templates are facades of the real types, derived from Heat's own resource classes
(`properties_schema`, `attributes_schema`, `base_attributes_schema`) as loaded by Heat's plugin
registry: every property of the real type is a parameter of the matching type (required ones
without a default), every attribute and `show` is an output. The outputs the driver's templates
read get plausible values on loopback, so that whatever connects to them (Magnum's health
checks) stays on this machine: port fixed_ips 127.10.0.N, floating IPs 127.24.4.N, load
balancer VIPs 127.10.0.N (N random in 2..254, one per resource, so two resources may collide; a
longer yaql expression drawing three octets failed to parse in Heat now and then), servers
return their `name` property.

Knobs, in standins.yaml's parameter_defaults (override them in a later environment):
  standin_boot_seconds  (0)    every server stand-in takes this long to create
  standin_slow_seconds  (600)  ... or this long when its name contains `standin-slow`
A server whose name contains `standin-fail` fails at create, with the reason
"Test Resource failed standin_fail_injected_by_name".
"""
import logging
import os
import sys
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

import yaml  # noqa: E402
from heat.engine import properties, resources  # noqa: E402

HOT_VERSION = "2021-04-16"

NONE_TYPES = [
    "OS::Neutron::Net", "OS::Neutron::Subnet", "OS::Neutron::Router",
    "OS::Neutron::RouterInterface", "OS::Neutron::SecurityGroup",
    "OS::Neutron::SecurityGroupRule", "OS::Neutron::FloatingIPAssociation",
    "OS::Nova::ServerGroup", "OS::Octavia::Listener", "OS::Octavia::Pool",
    "OS::Octavia::PoolMember", "OS::Octavia::HealthMonitor",
    "OS::Cinder::VolumeAttachment", "OS::Heat::WaitCondition",
]

PARAM_TYPES = {
    properties.Schema.STRING: ("string", ""),
    properties.Schema.INTEGER: ("number", 0),
    properties.Schema.NUMBER: ("number", 0),
    properties.Schema.BOOLEAN: ("boolean", False),
    properties.Schema.LIST: ("comma_delimited_list", []),
    properties.Schema.MAP: ("json", {}),
}


def random_octet(resource):
    """An output expression: a number 2..254 from an OS::Heat::RandomString of digits."""
    return {"yaql": {"expression": "str(int($.data.r) mod 253 + 2)",
                     "data": {"r": {"get_attr": [resource, "value"]}}}}


def dotted(prefix, resource):
    return {"str_replace": {"template": prefix + "N", "params": {"N": random_octet(resource)}}}


RANDOM = {"type": "OS::Heat::RandomString",
          "properties": {"length": 3, "character_classes": [{"class": "digits", "min": 3}]}}


def server_extra(t):
    p = t["parameters"]
    p["standin_boot_seconds"] = {"type": "number", "default": 0,
                                 "description": "How long a server stand-in takes to create."}
    p["standin_slow_seconds"] = {"type": "number", "default": 600,
                                 "description": "... when its name contains standin-slow."}
    t["conditions"] = {
        "has_name": {"not": {"equals": [{"get_param": "name"}, ""]}},
        "inject_failure": {"contains": ["standin-fail", {"get_param": "name"}]},
        "inject_slowness": {"contains": ["standin-slow", {"get_param": "name"}]},
    }
    name = {"if": ["has_name", {"get_param": "name"}, {"get_param": "OS::stack_name"}]}
    t["resources"] = {
        "addr": RANDOM,
        "standin_boot": {"type": "OS::Heat::TestResource", "properties": {
            "value": name,
            # Only the create takes time: scaling down and deleting stay quick.
            "action_wait_secs": {
                "create": {"if": ["inject_slowness", {"get_param": "standin_slow_seconds"},
                                  {"get_param": "standin_boot_seconds"}]},
                "update": 0, "delete": 0}}},
        "standin_fail_injected_by_name": {
            "type": "OS::Heat::TestResource", "condition": "inject_failure",
            "properties": {"fail": True, "value": "the server name contains standin-fail"}},
    }
    address = dotted("127.10.0.", "addr")
    o = t["outputs"]
    o["name"]["value"] = {"get_attr": ["standin_boot", "output"]}
    o["first_address"]["value"] = address
    o["networks"]["value"] = {"standin-network": [address]}
    o["addresses"]["value"] = {"standin-network": [{"addr": address, "version": 4}]}
    o["instance_name"]["value"] = name
    o["accessIPv4"]["value"] = ""
    o["accessIPv6"]["value"] = ""


def port_extra(t):
    t["resources"] = {"addr": RANDOM}
    address = dotted("127.10.0.", "addr")
    # A list property reaches a provider template flattened: ".member.0.subnet=ID".
    subnet = {"yaql": {
        "expression": "$.data.f.where($.startsWith('.member.0.subnet=')).select($.substring(17))"
                      ".concat(list('standin-subnet')).first()",
        "data": {"f": {"get_param": "fixed_ips"}}}}
    o = t["outputs"]
    o["fixed_ips"]["value"] = [{"ip_address": address, "subnet_id": subnet}]
    o["network_id"]["value"] = {"get_param": "network"}
    o["network"]["value"] = {"id": {"get_param": "network"}}
    o["name"]["value"] = {"get_param": "name"}
    o["status"]["value"] = "ACTIVE"
    o["mac_address"]["value"] = "fa:16:3e:00:00:01"
    o["subnets"]["value"] = [{"id": subnet}]


def floatingip_extra(t):
    t["resources"] = {"addr": RANDOM}
    o = t["outputs"]
    o["floating_ip_address"]["value"] = dotted("127.24.4.", "addr")
    o["floating_network_id"]["value"] = {"get_param": "floating_network"}
    o["port_id"]["value"] = {"get_param": "port_id"}


def loadbalancer_extra(t):
    t["resources"] = {"addr": RANDOM}
    o = t["outputs"]
    o["vip_address"]["value"] = dotted("127.10.0.", "addr")
    o["vip_port_id"]["value"] = {"get_param": "OS::stack_id"}
    o["vip_subnet_id"]["value"] = {"get_param": "vip_subnet"}
    o["pools"]["value"] = []


def volume_extra(t):
    o = t["outputs"]
    o["size"]["value"] = {"get_param": "size"}
    o["status"]["value"] = "available"
    o["volume_type"]["value"] = {"get_param": "volume_type"}
    o["attachments_list"]["value"] = []


PROVIDERS = {
    "OS::Nova::Server": ("standin-server.yaml", server_extra),
    "OS::Neutron::Port": ("standin-port.yaml", port_extra),
    "OS::Neutron::FloatingIP": ("standin-floatingip.yaml", floatingip_extra),
    "OS::Octavia::LoadBalancer": ("standin-loadbalancer.yaml", loadbalancer_extra),
    "OS::Cinder::Volume": ("standin-volume.yaml", volume_extra),
}


def facade(type_name, cls, extra):
    params = {}
    for name, schema in sorted(properties.schemata(cls.properties_schema).items()):
        if not schema.implemented:
            continue
        ptype, default = PARAM_TYPES[schema.type]
        param = {"type": ptype}
        if not schema.required:
            param["default"] = default
        params[name] = param
    attrs = dict(cls.attributes_schema)
    attrs.update(cls.base_attributes_schema)
    outputs = {name: {"value": None} for name in sorted(attrs)}
    t = {"heat_template_version": HOT_VERSION,
         "description": "Stand-in for %s, generated by scripts/heat-standins.py from Heat's "
                        "own schema of the type." % type_name,
         "parameters": params, "resources": {}, "outputs": outputs}
    extra(t)
    outputs["show"]["value"] = {k: v["value"] for k, v in outputs.items() if k != "show"}
    # get_resource on the stand-in returns a UUID (the nested stack's), as for the real type.
    outputs["OS::stack_id"] = {"value": {"get_param": "OS::stack_id"}}
    return t


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def dump(path, data):
    text = yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=1000)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# Generated by scripts/heat-standins.py; do not edit.\n" + text)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: heat-standins.py OUTDIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    resources.initialise()
    env = resources.global_env()
    registry = {}
    for type_name, (file_name, extra) in PROVIDERS.items():
        cls = env.get_class(type_name)
        dump(os.path.join(out, file_name), facade(type_name, cls, extra))
        registry[type_name] = file_name
    for type_name in NONE_TYPES:
        env.get_class(type_name)  # fails loudly if this Heat does not know the type
        registry[type_name] = "OS::Heat::None"
    dump(os.path.join(out, "standins.yaml"), {
        "parameter_defaults": {"standin_boot_seconds": 0, "standin_slow_seconds": 600},
        "resource_registry": registry})
    print(os.path.join(out, "standins.yaml"))


if __name__ == "__main__":
    main()
