"""openapi_validator.py — checks an HTTP response of the gateway against
docs/openapi.yaml, so the document cannot drift from the code.

harness.http_request() hands it every response from a gateway: the
status must be documented for the path and method, the content type among
the documented ones, and a JSON body must match the documented schema.
A path the document does not have must answer 404, a method it does not
have on a path 405, both as problem documents. On the admin listener
(gateway.admin_listen) only the operations marked `x-admin-listener: true`
exist; every other path is 404 there.

The schema checks are the subset of JSON Schema 2020-12 the document uses:
type (and type lists for nullable values), enum, required, properties,
additionalProperties, unevaluatedProperties (own and allOf properties),
items, allOf, oneOf, anyOf, $ref within the document, minimum, maximum,
minItems, and format date-time, loosely (RFC 3339 shape). A keyword
outside the subset is an error, so the document cannot quietly use one
that is not checked.
"""
import json
import os
import re
import urllib.parse

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, "docs", "openapi.yaml")

CHECKED = {"type", "enum", "required", "properties", "additionalProperties",
           "unevaluatedProperties", "items", "allOf", "oneOf", "anyOf", "$ref",
           "minimum", "maximum", "minItems", "format"}
# Said for readers (or for other tools), nothing to check.
ANNOTATIONS = {"description", "example", "examples", "title", "default",
               "contentMediaType"}
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\Z")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class Invalid(Exception):
    """A response the document does not describe."""


def _is_type(value, name):
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise Invalid("unknown JSON Schema type %r" % name)


class Document:
    def __init__(self, path=DOCUMENT):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        # Literal paths before templated ones: /v1/consents is not
        # /v1/consents/{id}.
        self.paths = sorted(self.doc["paths"].items(), key=lambda kv: "{" in kv[0])
        self.patterns = [(re.compile(self._regex(t) + r"\Z"), t, item)
                         for t, item in self.paths]

    @staticmethod
    def _regex(template):
        """A template's regex: a parameter is one segment, except as the
        last segment, where it takes the rest (a tile path has several)."""
        parts = re.split(r"(\{[^}]+\})", template)
        out = ""
        for i, p in enumerate(parts):
            if p.startswith("{"):
                out += ".+" if i == len(parts) - 2 and parts[-1] == "" else "[^/]+"
            else:
                out += re.escape(p)
        return out

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise Invalid("only references within the document are checked: " + ref)
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    # ---- responses ----

    def operation(self, method, path, admin=False):
        """(template, operation) of a request, or (None, None) when the
        listener has no such path, (template, None) no such method."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for regex, template, item in self.patterns:
            if not regex.match(path):
                continue
            ops = {m: op for m, op in item.items() if m in METHODS and
                   (not admin or op.get("x-admin-listener"))}
            if not ops:
                return None, None
            return template, ops.get(method.lower())
        return None, None

    def check_response(self, method, path, status, content_type, body, admin=False):
        """Raises Invalid unless the response is one the document describes;
        admin: it came from the admin listener."""
        template, op = self.operation(method, path, admin)
        where = "%s %s%s" % (method, template or path, " (admin listener)" if admin else "")
        if op is None:
            want = 405 if template is not None else 404
            if status != want:
                raise Invalid("%s: undocumented, so %d expected, got %d" % (where, want, status))
            self._check_body(where, "application/problem+json",
                             {"schema": {"$ref": "#/components/schemas/Problem"}},
                             content_type, body)
            return
        responses = op.get("responses", {})
        if str(status) not in responses:
            raise Invalid("%s: status %d is not documented (documented: %s)"
                          % (where, status, ", ".join(sorted(responses))))
        resp = self.resolve(responses[str(status)])
        content = resp.get("content")
        where += " %d" % status
        if not content:
            if body:
                raise Invalid("%s: a body where the document has none: %r" % (where, body[:200]))
            return
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in content:
            raise Invalid("%s: content type %r, documented: %s"
                          % (where, content_type, ", ".join(content)))
        self._check_body(where, media, content[media], content_type, body)

    def _check_body(self, where, media, media_obj, content_type, body):
        got = (content_type or "").split(";")[0].strip().lower()
        if got != media:
            raise Invalid("%s: content type %r, want %s" % (where, content_type, media))
        if not media.endswith("json"):
            return
        try:
            value = json.loads(body)
        except ValueError as e:
            raise Invalid("%s: not JSON (%s): %r" % (where, e, body[:200]))
        errors = self.validate(value, media_obj.get("schema", {}))
        if errors:
            raise Invalid("%s: the body does not match the document:\n  %s\nbody: %s"
                          % (where, "\n  ".join(errors[:10]), body[:1000]))

    # ---- schemas ----

    def validate(self, value, schema, at="$"):
        """The list of ways value fails schema (empty: it matches)."""
        errors = []
        self._check(value, schema, at, errors)
        return errors

    def _matches(self, value, schema, at):
        return not self.validate(value, schema, at)

    def _check(self, value, schema, at, errors):
        if schema is True or schema == {}:
            return
        if schema is False:
            errors.append("%s: nothing is allowed here" % at)
            return
        unknown = set(schema) - CHECKED - ANNOTATIONS
        if unknown:
            raise Invalid("%s: schema keywords the validator does not check: %s"
                          % (at, ", ".join(sorted(unknown))))
        if "$ref" in schema:
            self._check(value, self.resolve(schema), at, errors)
        for sub in schema.get("allOf", []):
            self._check(value, sub, at, errors)
        if "oneOf" in schema:
            n = sum(self._matches(value, sub, at) for sub in schema["oneOf"])
            if n != 1:
                errors.append("%s: matches %d of the oneOf schemas, not exactly 1" % (at, n))
        if "anyOf" in schema and not any(self._matches(value, sub, at)
                                         for sub in schema["anyOf"]):
            errors.append("%s: matches none of the anyOf schemas" % at)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(_is_type(value, t) for t in types):
                errors.append("%s: %s is not of type %s" % (at, json.dumps(value)[:80],
                                                             " or ".join(types)))
                return
        if "enum" in schema and value not in schema["enum"]:
            errors.append("%s: %r is not one of %s" % (at, value, schema["enum"]))
        if _is_type(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                errors.append("%s: %r is below %r" % (at, value, schema["minimum"]))
            if "maximum" in schema and value > schema["maximum"]:
                errors.append("%s: %r is above %r" % (at, value, schema["maximum"]))
        if (schema.get("format") == "date-time" and isinstance(value, str)
                and not DATE_TIME.match(value)):
            errors.append("%s: %r is not an RFC 3339 date-time" % (at, value))
        if isinstance(value, dict):
            self._check_object(value, schema, at, errors)
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                errors.append("%s: fewer than %d items" % (at, schema["minItems"]))
            if "items" in schema:
                for i, item in enumerate(value):
                    self._check(item, schema["items"], "%s[%d]" % (at, i), errors)

    def _check_object(self, value, schema, at, errors):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append("%s: %s is required" % (at, name))
        for name, sub in props.items():
            if name in value:
                self._check(value[name], sub, "%s.%s" % (at, name), errors)
        extra = [k for k in value if k not in props]
        more = schema.get("additionalProperties", True)
        if more is False and extra:
            errors.append("%s: members the document does not have: %s" % (at, ", ".join(extra)))
        elif isinstance(more, dict):
            for k in extra:
                self._check(value[k], more, "%s.%s" % (at, k), errors)
        if schema.get("unevaluatedProperties", True) is False:
            known = self._evaluated(schema)
            stray = [k for k in value if k not in known]
            if stray:
                errors.append("%s: members the document does not have: %s"
                              % (at, ", ".join(stray)))

    def _evaluated(self, schema):
        """The property names schema and its allOf branches declare."""
        schema = self.resolve(schema)
        names = set(schema.get("properties", {}))
        for sub in schema.get("allOf", []):
            names |= self._evaluated(sub)
        return names


def operations(doc):
    """{(METHOD, template)} of the document."""
    return {(m.upper(), t) for t, item in doc["paths"].items() for m in item if m in METHODS}
