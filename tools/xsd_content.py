#!/usr/bin/env python3
"""Derives the content model an XSD gives its document elements, as the data files that
`einvoice::schema` checks documents with:

    python3 tools/xsd_content.py ../shared/reference/xsd/ubl-2.1/maindoc/UBL-Invoice-2.1.xsd \\
        ../shared/reference/xsd/ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd > src/einvoice/codes/ubl-content.txt
    python3 tools/xsd_content.py \\
        ../shared/reference/xsd/cii-d16b/uncefact/data/standard/CrossIndustryInvoice_100pD16B.xsd \\
        > src/einvoice/codes/cii-content.txt

Each argument is a schema whose global elements are document elements; the schemas it imports
are read too. Only what a document element reaches is written. Lines (tab-separated):

    ns      PREFIX  URI                       a namespace, by the prefix the schemas give it
    leaf    KIND  BASE  ATTRIBUTE ...         text of the XSD type BASE; each attribute a field:
                                              NAME, NAME! (required) or NAME=VALUE (fixed)
    type    KIND  PREFIX:CHILD:KIND:MIN:MAX ...   child elements in this sequence (MAX: a number
                                              or `unbounded`)
    choice  KIND  PREFIX:CHILD:KIND:MIN:MAX ...   exactly one of these children
    any     KIND                              any content (a wildcard, e.g. UBL's extensions)
    root    PREFIX:ELEMENT  KIND              a document element

A kind is named PREFIX.TYPE, PREFIX.TYPE.ELEMENT for a type declared inside an element, xsd.TYPE
for a built-in type. A type that only renames its base (an extension or restriction adding no
attribute) is its base's kind. Needs lxml.
"""
import sys
from pathlib import Path
from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
XSD_NS = "http://www.w3.org/2001/XMLSchema"

schemas = {}  # path -> root element
prefixes = {}  # namespace -> prefix
globals_ = {}  # (kind of declaration, namespace, name) -> (declaration, schema root)


def load(path):
    path = Path(path).resolve()
    if path in schemas or not path.exists():
        return
    root = etree.parse(str(path)).getroot()
    schemas[path] = root
    target = root.get("targetNamespace", "")
    for prefix, uri in root.nsmap.items():
        if prefix and uri != XSD_NS and uri not in prefixes:
            prefixes[uri] = prefix
    for child in root:
        if child.tag in (XS + "complexType", XS + "simpleType", XS + "element"):
            globals_[(child.tag, target, child.get("name"))] = (child, root)
    for imp in root.findall(XS + "import") + root.findall(XS + "include"):
        if imp.get("schemaLocation"):
            load(path.parent / imp.get("schemaLocation"))


def qname(text, scope):
    """A QName of a schema's text as (namespace, local name)."""
    prefix, _, name = text.rpartition(":")
    return scope.nsmap.get(prefix or None, ""), name


kinds = {}  # kind name -> line (without the kind and name)
order = []


def emit(name, what, rest):
    if name not in kinds:
        kinds[name] = (what, rest)
        order.append(name)


def kind_of(type_text, scope):
    """The kind of a named type (resolving it, and what it reaches, on first use)."""
    ns, name = qname(type_text, scope)
    if ns == XSD_NS:
        emit(f"xsd.{name}", "leaf", [name])
        return f"xsd.{name}"
    found = globals_.get((XS + "complexType", ns, name)) or globals_.get((XS + "simpleType", ns, name))
    if found is None:
        sys.exit(f"type {type_text} not found")
    node, root = found
    return define(f"{prefixes[ns]}.{name}", node, root)


def leaf_of(node, scope):
    """A simple type or simple content: (XSD base, {attribute: (use, fixed)}, renames_only)."""
    if node.tag == XS + "simpleType":
        step = node.find(XS + "restriction")
        attrs = {}
    else:
        content = node.find(XS + "simpleContent")
        step = content.find(XS + "extension")
        if step is None:
            step = content.find(XS + "restriction")
        attrs = {
            a.get("name"): (a.get("use", "optional"), a.get("fixed"))
            for a in step.findall(XS + "attribute")
        }
    ns, name = qname(step.get("base"), scope)
    if ns == XSD_NS:
        return name, attrs, False
    base_node, base_root = globals_.get((XS + "complexType", ns, name)) or globals_[(XS + "simpleType", ns, name)]
    base, inherited, _ = leaf_of(base_node, base_root)
    merged = dict(inherited)
    merged.update(attrs)
    return base, merged, not attrs and len(step) == 0


def define(name, node, root):
    """The kind of a type declaration `node` of schema `root`, named `name` unless it only
    renames its base."""
    if name in kinds:
        return name
    if node.tag == XS + "simpleType" or node.find(XS + "simpleContent") is not None:
        base, attrs, renames = leaf_of(node, root)
        if renames:
            step = node.find(XS + "restriction") if node.tag == XS + "simpleType" else None
            if step is None:
                content = node.find(XS + "simpleContent")
                step = content.find(XS + "extension")
                if step is None:
                    step = content.find(XS + "restriction")
            return kind_of(step.get("base"), root)
        fields = []
        for attr, (use, fixed) in sorted(attrs.items()):
            fields.append(attr + ("!" if use == "required" else "") + (f"={fixed}" if fixed is not None else ""))
        emit(name, "leaf", [base] + fields)
        return name
    group = node.find(XS + "sequence")
    what = "type"
    if group is None:
        group = node.find(XS + "choice")
        what = "choice"
    if group is None or group.find(XS + "any") is not None:
        emit(name, "any", [])
        return name
    emit(name, what, None)  # placeholder: recursive types refer to themselves
    target = root.get("targetNamespace", "")
    items = []
    for e in group:
        if e.tag != XS + "element":
            continue
        if e.get("ref"):
            ns, local = qname(e.get("ref"), root)
            decl, decl_root = globals_[(XS + "element", ns, local)]
            kind = kind_of(decl.get("type"), decl_root)
        else:
            ns, local = target, e.get("name")
            if e.get("type"):
                kind = kind_of(e.get("type"), root)
            else:
                kind = define(f"{name}.{local}", e.find(XS + "complexType"), root)
        items.append(f"{prefixes[ns]}:{local}:{kind}:{e.get('minOccurs', '1')}:{e.get('maxOccurs', '1')}")
    kinds[name] = (what, items)
    return name


mains = [Path(p).resolve() for p in sys.argv[1:]]
for p in mains:
    load(p)
roots = []
for p in mains:
    root = schemas[p]
    target = root.get("targetNamespace", "")
    for e in root.findall(XS + "element"):
        # A document schema may give its own namespace no prefix: the element's name then.
        prefixes.setdefault(target, e.get("name").lower())
        roots.append((f"{prefixes[target]}:{e.get('name')}", kind_of(e.get("type"), root)))

out = sys.stdout
out.write(f"# The content model of {', '.join(e for e, _ in roots)}, derived by tools/xsd_content.py from\n")
out.write(f"# {', '.join(p.name for p in mains)} and the schemas they import. Do not edit.\n")
used = {u.split(":")[0] for what, items in kinds.values() if what in ("type", "choice") for u in items}
used |= {e.split(":")[0] for e, _ in roots}
for uri, prefix in sorted(prefixes.items(), key=lambda p: p[1]):
    if prefix in used:
        out.write(f"ns\t{prefix}\t{uri}\n")
for name in sorted(order):
    what, rest = kinds[name]
    out.write("\t".join([what, name] + rest) + "\n")
for element, kind in roots:
    out.write(f"root\t{element}\t{kind}\n")
