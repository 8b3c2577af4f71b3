"""Prints, as JSON, the field tables of KServe's own API models, read from the
kserve Python SDK wheel (a zip) without importing it.

The SDK's models are generated from KServe's OpenAPI definitions: each class
has `openapi_types` (attribute -> type), `attribute_map` (attribute -> JSON
key), and setters that refuse None for required fields. Those three facts are
all scripts/deploy/validate-manifests.mjs needs to check a ServingRuntime or
an InferenceService field by field. Usage: python3 kserve-models.py WHEEL
"""
import ast
import json
import sys
import zipfile


def literal_dict(cls, name):
    for node in cls.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def required_attributes(cls):
    """Attributes whose setter raises on None (the generator's mark of a required field)."""
    required = []
    for node in cls.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        if not any(isinstance(d, ast.Attribute) and d.attr == 'setter' for d in node.decorator_list):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Raise) and isinstance(sub.exc, ast.Call):
                args = sub.exc.args
                if args and isinstance(args[0], ast.Constant) and 'must not be `None`' in str(args[0].value):
                    required.append(node.name)
                    break
    return required


def main(wheel):
    models = {}
    with zipfile.ZipFile(wheel) as z:
        for member in z.namelist():
            if not (member.startswith('kserve/models/v1') and member.endswith('.py')):
                continue
            tree = ast.parse(z.read(member).decode('utf-8'))
            for cls in tree.body:
                if not isinstance(cls, ast.ClassDef):
                    continue
                types = literal_dict(cls, 'openapi_types')
                keys = literal_dict(cls, 'attribute_map')
                if types is None or keys is None:
                    continue
                required = set(required_attributes(cls))
                models[cls.name] = {
                    'fields': {keys[attr]: types[attr] for attr in types},
                    'required': sorted(keys[attr] for attr in required),
                }
    json.dump(models, sys.stdout, indent=1, sort_keys=True)


if __name__ == '__main__':
    main(sys.argv[1])
