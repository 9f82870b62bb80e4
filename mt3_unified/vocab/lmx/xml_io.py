"""Safe reading of MusicXML documents from paths, bytes, text or compressed .mxl archives."""

from __future__ import annotations

import io
import os
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from mt3_unified.errors import MusicXMLError

ZIP_MAGIC = b"PK\x03\x04"
# A score larger than this after decompression is treated as a zip bomb.
MAX_MXL_MEMBER_BYTES = 256 * 1024 * 1024
SCORE_ROOTS = ("score-partwise", "score-timewise")
_INDENT_BYTES = re.compile(rb">\s+<")
_INDENT_TEXT = re.compile(r">\s+<")
_CLOSE_OPEN = {bytes: b"><", str: "><"}


def read_source(source) -> tuple[bytes | str, object]:
    """Returns the raw document and the name to use in error messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), bytes(source)
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return source, source
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                return handle.read(), source
        except OSError as error:
            raise MusicXMLError(source, f"cannot read the file ({error.strerror})") from None
    raise MusicXMLError(None, f"unsupported MusicXML source type {type(source).__name__}")


def _unzip_mxl(data: bytes, name) -> bytes:
    """The root score of a compressed .mxl archive, located through META-INF/container.xml."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {info.filename: info for info in archive.infolist()}
        rootfile = _mxl_rootfile(archive, members, name)
        info = members.get(rootfile)
        if info is None:
            raise MusicXMLError(name, f"corrupt .mxl: rootfile {rootfile!r} is not in the archive")
        if info.file_size > MAX_MXL_MEMBER_BYTES:
            raise MusicXMLError(name, f"corrupt .mxl: {rootfile!r} is too large when unpacked")
        return archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as error:
        if isinstance(error, MusicXMLError):
            raise
        raise MusicXMLError(name, f"corrupt .mxl archive ({error})") from None
    except NotImplementedError as error:  # e.g. an unsupported compression method
        raise MusicXMLError(name, f"corrupt .mxl archive ({error})") from None


def _mxl_rootfile(archive: zipfile.ZipFile, members: dict, name) -> str:
    if "META-INF/container.xml" not in members:
        # Some writers omit the container; accept the archive if it holds exactly one score.
        scores = [
            path
            for path in members
            if not path.startswith("META-INF/") and path.endswith((".xml", ".musicxml"))
        ]
        if len(scores) == 1:
            return scores[0]
        raise MusicXMLError(name, "corrupt .mxl: META-INF/container.xml is missing")
    container = parse_xml(archive.read("META-INF/container.xml"), name)
    for element in container.iter():
        if _local(element.tag) == "rootfile" and element.get("full-path"):
            return posixpath.normpath(element.get("full-path"))
    raise MusicXMLError(name, "corrupt .mxl: container.xml names no rootfile")


def parse_xml(data: bytes | str, name, prepare=None) -> ET.Element:
    """Parses XML without resolving external entities or expanding entity declarations.

    ``prepare`` (text -> text or None) may shrink the document, once its indentation is
    stripped, before the fast parser reads it; if the prepared text does not parse, the
    document is parsed as it was, so errors always describe the original.
    """
    if not data.strip():
        raise MusicXMLError(name, "empty file")
    try:
        data = _decode_utf16(data)
        if _plainly_safe(data):
            # No entity can be declared, and expat never fetches external DTDs: the C
            # parser is safe here and about a third faster than defusedxml's.
            data = _strip_indentation(data)
            prepared = prepare(data) if prepare is not None else None
            if prepared is not None:
                try:
                    return ET.fromstring(prepared)
                except ET.ParseError:
                    pass
            return ET.fromstring(data)
        return SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise MusicXMLError(name, f"unsafe XML refused ({type(error).__name__})") from None
    except (ET.ParseError, ValueError) as error:
        raise MusicXMLError(name, f"malformed XML ({error})") from None


def _decode_utf16(data: bytes | str) -> bytes | str:
    """UTF-16 documents (many Finale exports) as text, so the fast path can check them."""
    if isinstance(data, bytes) and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return data  # left to the parser, which reports it as malformed
    return data


def _plainly_safe(data: bytes | str) -> bool:
    """True when the document has no entity declaration, in an ASCII-compatible encoding.

    Entities can only be declared with "<!ENTITY"; a UTF-16/32 document could hide that
    from a byte search, so those (and anything with NUL bytes) go through defusedxml.
    """
    if isinstance(data, str):
        return "<!ENTITY" not in data
    return b"<!ENTITY" not in data and b"\x00" not in data[:1024]


def _strip_indentation(data: bytes | str) -> bytes | str:
    """Drops whitespace between tags: fewer text nodes to build (LMX never reads them)."""
    return (_INDENT_TEXT if isinstance(data, str) else _INDENT_BYTES).sub(
        _CLOSE_OPEN[type(data)], data
    )


def read_score(source, prepare=None) -> tuple[ET.Element, object]:
    """The <score-partwise> root of a MusicXML source (timewise scores are converted).

    ``prepare`` is passed on to parse_xml.
    """
    data, name = read_source(source)
    if isinstance(data, bytes) and data.startswith(ZIP_MAGIC):
        data = _unzip_mxl(data, name)
    root = parse_xml(data, name, prepare)
    tag = _local(root.tag)
    if tag not in SCORE_ROOTS:
        raise MusicXMLError(name, f"not a MusicXML score (root element is <{tag}>)")
    if tag == "score-timewise":
        root = _timewise_to_partwise(root)
    return root, name


def _timewise_to_partwise(root: ET.Element) -> ET.Element:
    """Regroups <measure><part> into <part><measure>, keeping every other child as is."""
    partwise = ET.Element("score-partwise", root.attrib)
    parts: dict[str, ET.Element] = {}
    for child in root:
        if child.tag != "measure":
            partwise.append(child)
            continue
        for part in child.findall("part"):
            part_id = part.get("id", "")
            if part_id not in parts:
                parts[part_id] = ET.SubElement(partwise, "part", {"id": part_id})
            measure = ET.SubElement(parts[part_id], "measure", child.attrib)
            measure.extend(list(part))
    return partwise


def _local(tag) -> str:
    """An element's tag without its namespace (an SVG root is '{http://...svg}svg')."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)
