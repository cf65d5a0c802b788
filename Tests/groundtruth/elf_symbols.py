#!/usr/bin/env python3
"""Independent ground truth for `uprobe-trace symbols dump --json`.

Reads an ELF file with pyelftools (not our code) and prints the same JSON
document shape: every named, non-section symbol of .symtab then .dynsym,
with GNU version, and the file offset computed from the PT_LOAD segments.
"""
import json
import sys

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from elftools.elf.gnuversions import GNUVerSymSection, GNUVerDefSection, GNUVerNeedSection

TYPES = {"STT_NOTYPE": "NOTYPE", "STT_OBJECT": "OBJECT", "STT_FUNC": "FUNC", "STT_FILE": "FILE",
         "STT_COMMON": "COMMON", "STT_TLS": "TLS", "STT_GNU_IFUNC": "IFUNC", "STT_LOOS": "IFUNC"}
BINDS = {"STB_LOCAL": "LOCAL", "STB_GLOBAL": "GLOBAL", "STB_WEAK": "WEAK",
         "STB_GNU_UNIQUE": "UNIQUE", "STB_LOOS": "UNIQUE"}
SPECIAL = {"SHN_UNDEF": "UND", "SHN_ABS": "ABS", "SHN_COMMON": "COMMON"}


def version_names(elf):
    """Version index -> (name, defined-here)."""
    names = {}
    for sec in elf.iter_sections():
        if isinstance(sec, GNUVerDefSection):
            for verdef, aux in sec.iter_versions():
                first = next(aux, None)
                if first is not None:
                    names[verdef["vd_ndx"]] = (first.name, True)
        elif isinstance(sec, GNUVerNeedSection):
            for _verneed, aux in sec.iter_versions():
                for vernaux in aux:
                    names[vernaux["vna_other"]] = (vernaux.name, False)
    return names


def main(path):
    with open(path, "rb") as f:
        elf = ELFFile(f)
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]

        def file_offset(value):
            for s in loads:
                if s["p_vaddr"] <= value < s["p_vaddr"] + s["p_filesz"]:
                    return value - s["p_vaddr"] + s["p_offset"]
            return None

        versym = next((s for s in elf.iter_sections() if isinstance(s, GNUVerSymSection)), None)
        vnames = version_names(elf)
        out = []
        for table in ("SHT_SYMTAB", "SHT_DYNSYM"):
            for sec in elf.iter_sections():
                if sec["sh_type"] != table or not isinstance(sec, SymbolTableSection):
                    continue
                for i, sym in enumerate(sec.iter_symbols()):
                    if i == 0 or not sym.name or sym["st_info"]["type"] == "STT_SECTION":
                        continue
                    shndx = sym["st_shndx"]
                    defined = shndx != "SHN_UNDEF"
                    if isinstance(shndx, int):
                        section = elf.get_section(shndx).name
                    else:
                        section = SPECIAL.get(shndx, shndx)
                    version, version_default = None, None
                    if table == "SHT_DYNSYM" and versym is not None:
                        raw = versym.get_symbol(i)["ndx"]
                        if isinstance(raw, int):
                            ndx = raw & 0x7FFF
                            if ndx > 1 and ndx in vnames:
                                vname, here = vnames[ndx]
                                version = vname
                                version_default = not (raw & 0x8000) and defined and here
                    typ = TYPES.get(sym["st_info"]["type"], sym["st_info"]["type"])
                    offset = None
                    if defined and isinstance(shndx, int) and typ != "TLS":
                        offset = file_offset(sym["st_value"])
                    rec = {
                        "name": sym.name, "version": version,
                        "type": typ, "bind": BINDS.get(sym["st_info"]["bind"], sym["st_info"]["bind"]),
                        "size": sym["st_size"], "address": sym["st_value"] if defined else None,
                        "file_offset": offset, "section": section,
                        "table": "symtab" if table == "SHT_SYMTAB" else "dynsym",
                    }
                    if version is not None:
                        rec["version_default"] = bool(version_default)
                    out.append(rec)
        build_id = None
        for sec in elf.iter_sections():
            if sec["sh_type"] == "SHT_NOTE":
                for note in sec.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        build_id = note["n_desc"]
        print(json.dumps({"path": path, "build_id": build_id, "type": elf["e_type"].replace("ET_", ""),
                          "symbols": out}))


if __name__ == "__main__":
    main(sys.argv[1])
