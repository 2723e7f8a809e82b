#!/usr/bin/env python3
"""Derives the content model the UBL 2.1 schema gives Invoice and CreditNote documents, as the
data file `src/einvoice/codes/ubl-content.txt` that `einvoice::schema` checks documents with.

    python3 tools/ubl_content.py ../shared/reference/xsd/ubl-2.1 > src/einvoice/codes/ubl-content.txt

Lines (tab-separated):
    leaf  KIND  BASE  ATTRIBUTE[!] ...       a simple-content type: its XSD base type and its
                                             attributes (`!`: required)
    type  NAME  NS:CHILD:KIND:MIN:MAX ...    an aggregate: its children in sequence (NS: cac,
                                             cbc or ext); KIND is an aggregate's NAME, a
                                             leaf's KIND or `any`
    root  ELEMENT  NAME                      a document element and its aggregate
UBL 2.1 has no choice groups outside the signature extensions, whose content is `any` here.
"""
import sys
from pathlib import Path
from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
root = Path(sys.argv[1])
common = root / "common"
docs = {
    "cac": etree.parse(str(common / "UBL-CommonAggregateComponents-2.1.xsd")),
    "cbc": etree.parse(str(common / "UBL-CommonBasicComponents-2.1.xsd")),
    "ext": etree.parse(str(common / "UBL-CommonExtensionComponents-2.1.xsd")),
    "udt": etree.parse(str(common / "UBL-UnqualifiedDataTypes-2.1.xsd")),
    "ccts": etree.parse(str(common / "CCTS_CCT_SchemaModule-2.1.xsd")),
    "inv": etree.parse(str(root / "maindoc" / "UBL-Invoice-2.1.xsd")),
    "crn": etree.parse(str(root / "maindoc" / "UBL-CreditNote-2.1.xsd")),
}


def local(qname):
    return qname.split(":")[-1]


def ctypes(doc):
    return {t.get("name"): t for t in doc.getroot().iter(XS + "complexType") if t.get("name")}


def elements(doc):
    return {e.get("name"): e.get("type") for e in doc.getroot().findall(XS + "element")}


def attributes(node):
    return {a.get("name"): a.get("use", "optional") for a in node.findall(XS + "attribute")}


ccts = ctypes(docs["ccts"])
udt = ctypes(docs["udt"])
leaves = {}  # udt type -> (base, {attr: use})


def leaf(types, name):
    """A simple-content type's XSD base and attributes, through extensions and restrictions of
    UDT and CCTS types (a restriction keeps the attributes it does not name)."""
    sc = types[name].find(XS + "simpleContent")
    step = sc.find(XS + "extension")
    if step is None:
        step = sc.find(XS + "restriction")
    base = step.get("base")
    if base.startswith("xsd:"):
        found, attrs = local(base), {}
    elif base.startswith("ccts-cct:"):
        found, attrs = leaf(ccts, local(base))
    else:
        found, attrs = leaf(udt, local(base))
    attrs = dict(attrs)
    attrs.update(attributes(step))
    return found, attrs


for name in udt:
    leaves[name] = leaf(udt, name)

# Element name -> kind, per namespace.
kinds = {}
for prefix in ("cbc", "ext"):
    types = ctypes(docs[prefix])
    for name, typ in elements(docs[prefix]).items():
        t = types.get(local(typ))
        if t is not None and t.find(XS + "simpleContent") is not None:
            kinds[(prefix, name)] = local(t.find(f"{XS}simpleContent/{XS}extension").get("base"))
        else:
            kinds[(prefix, name)] = local(typ)
for name, typ in elements(docs["cac"]).items():
    kinds[("cac", name)] = local(typ)

aggregates = {}
for prefix in ("cac", "ext", "inv", "crn"):
    for name, t in ctypes(docs[prefix]).items():
        seq = t.find(XS + "sequence")
        if seq is None:
            continue
        items = []
        for e in seq:
            if e.tag == XS + "element":
                ref = e.get("ref")
                p, n = ref.split(":") if ":" in ref else (prefix, ref)
                kind = kinds[(p, n)]
                items.append(f"{p}:{n}:{kind}:{e.get('minOccurs', '1')}:{e.get('maxOccurs', '1')}")
            elif e.tag == XS + "any":
                items = None
                break
        aggregates[name] = items
# The extension's content is any element of another namespace (UBL-ExtensionContentDataType).
aggregates["ExtensionContentType"] = None

out = sys.stdout
out.write("# The UBL 2.1 content model of Invoice and CreditNote, derived by tools/ubl_content.py from\n")
out.write("# the OASIS UBL 2.1 schemas (maindoc, common: CAC, CBC, extension, UDT, CCTS). Do not edit.\n")
for name in sorted(leaves):
    base, attrs = leaves[name]
    names = " ".join(a + ("!" if use == "required" else "") for a, use in sorted(attrs.items()))
    out.write(f"leaf\t{name}\t{base}\t{names}\n".replace("\t\n", "\n"))
for name in sorted(aggregates):
    items = aggregates[name]
    out.write(f"type\t{name}\t" + ("any" if items is None else " ".join(items)) + "\n")
out.write("root\tInvoice\tInvoiceType\nroot\tCreditNote\tCreditNoteType\n")
