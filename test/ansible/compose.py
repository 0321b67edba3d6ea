#!/usr/bin/env python3
"""Evaluates the `compose`, `groups` and `keyed_groups` expressions of ansible/inventories/openstack.yml
against recorded host variables (fixtures/openstack-hostvars.json) the way Ansible's Constructable
does: each expression wrapped in {{ }} and templated with the host's variables as the only
variables, lookups disabled. Prints {case: {"compose": {...}, "groups": [...], "expect": ...}} as JSON.
Debian's ansible is enough; no openstack collection or cloud is needed."""
import json
import os
import sys

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

here = os.path.dirname(os.path.abspath(__file__))
inventory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', '..', 'ansible', 'inventories', 'openstack.yml')
fixtures = os.path.join(here, 'fixtures', 'openstack-hostvars.json')

with open(inventory) as f:
    config = yaml.safe_load(f)
with open(fixtures) as f:
    cases = {k: v for k, v in json.load(f).items() if not k.startswith('_')}

out = {}
for name, case in cases.items():
    templar = Templar(loader=DataLoader(), variables=case['vars'])

    def evaluate(expr):
        return templar.template('{{ %s }}' % expr, disable_lookups=True)

    composed = {var: evaluate(expr) for var, expr in config.get('compose', {}).items()}
    groups = [g for g, cond in config.get('groups', {}).items() if templar.template('{{ %s }}' % cond) in (True, 'True')]
    for keyed in config.get('keyed_groups', []):
        groups.append('%s_%s' % (keyed.get('prefix', ''), evaluate(keyed['key'])))
    out[name] = {'compose': composed, 'groups': groups, 'expect': case['expect']}

json.dump(out, sys.stdout, indent=2, default=str)
