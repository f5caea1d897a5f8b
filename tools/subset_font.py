"""One-off: cut the CJK font the report chart uses down to the characters a Chinese report needs.

Not part of the application and not a runtime dependency: it needs fontTools, installed in a
throwaway environment, and a full CJK font from Debian's `fonts-noto-cjk` package::

    apt-get install -y fonts-noto-cjk
    python3 -m venv /tmp/fontvenv && /tmp/fontvenv/bin/pip install fonttools
    /tmp/fontvenv/bin/python tools/subset_font.py

The character set (see `characters`): printable ASCII and Latin-1, general and CJK punctuation,
full-width forms, every character of GB2312 (its symbol rows plus the 3,755 level-1 and 3,008
level-2 hanzi, found by decoding the GB2312 byte ranges), a few units and numbered symbols
(㎡, ℃, №, ①…) and every character that occurs in the sample data in `data/`. Characters the
source font lacks are skipped and reported. The result is written to data/fonts/ together with
nothing else: the license and README there are maintained by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEFAULT_FACE = "Noto Sans CJK SC"
DEFAULT_OUTPUT = PROJECT / "data" / "fonts" / "NotoSansSC-subset.otf"
DATA_FILES = ("*.csv", "*.yaml", "*.txt")

# Code-point ranges kept whole (inclusive).
RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: · × ÷ ° ± § …
    (0x2010, 0x2027),  # ‐ – — ‘ ’ “ ” • … ‧
    (0x2030, 0x203B),  # ‰ ′ ″ ※
    (0x2103, 0x2103),  # ℃
    (0x2116, 0x2116),  # №
    (0x2160, 0x216B),  # Ⅰ…Ⅻ
    (0x2170, 0x2179),  # ⅰ…ⅹ
    (0x2190, 0x2199),  # arrows
    (0x2460, 0x249B),  # ①…⑳ ⑴…⒇ ⒈…⒛
    (0x25A0, 0x25CF),  # ■ □ ▲ △ ◆ ◇ ○ ●
    (0x2605, 0x2606),  # ★ ☆
    (0x2713, 0x2714),  # ✓ ✔
    (0x2717, 0x2718),  # ✗ ✘
    (0x3000, 0x303F),  # CJK symbols and punctuation: 、。《》「」【】〔〕…
    (0x3220, 0x3229),  # ㈠…㈩
    (0x338E, 0x338F),  # ㎎ ㎏
    (0x339C, 0x33A1),  # ㎜ ㎝ ㎞ ㎟ ㎠ ㎡
    (0x33C4, 0x33C4),  # ㏄
    (0x33CE, 0x33CE),  # ㏎
    (0x33D1, 0x33D2),  # ㏑ ㏒
    (0x33D5, 0x33D5),  # ㏕
    (0xFE30, 0xFE4F),  # CJK compatibility forms (︰ ﹏ …)
    (0xFF01, 0xFF5E),  # full-width ASCII
    (0xFF5F, 0xFF65),  # full-width brackets, half-width punctuation
    (0xFFE0, 0xFFE6),  # ￠ ￡ ￢ ￣ ￤ ￥ ￦
)


def gb2312_characters() -> list[str]:
    """Every character GB2312 encodes: rows 0xA1–0xA9 (symbols) and 0xB0–0xF7 (levels 1 and 2)."""
    chars: list[str] = []
    for high in (*range(0xA1, 0xAA), *range(0xB0, 0xF8)):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # unassigned cells (the rows are not all full; row 0xD7 ends at 0xF9)
    return chars


def data_characters(data_dir: Path) -> set[str]:
    found: set[str] = set()
    for pattern in DATA_FILES:
        for path in sorted(data_dir.glob(pattern)):
            found.update(path.read_text(encoding="utf-8"))
    return {char for char in found if char.isprintable()}


def characters(data_dir: Path) -> list[str]:
    wanted = {chr(code) for start, end in RANGES for code in range(start, end + 1)}
    wanted.update(gb2312_characters())
    wanted.update(data_characters(data_dir))
    return sorted(wanted)


def open_face(source: Path, face: str) -> TTFont:
    if source.suffix.lower() in (".ttc", ".otc"):
        for font in TTCollection(str(source)).fonts:
            if font["name"].getDebugName(4) == face or font["name"].getDebugName(1) == face:
                return font
        raise SystemExit(f"{source}: no face named {face!r}")
    return TTFont(str(source))


def subset_font(font: TTFont, chars: Iterable[str], output: Path) -> tuple[int, list[str]]:
    """Subset `font` in place to `chars`, save it, return (glyph count, characters it lacked)."""
    cmap = font.getBestCmap()
    chars = list(chars)
    missing = [char for char in chars if ord(char) not in cmap]
    options = subset.Options()
    options.layout_features = ["kern", "palt"]  # horizontal text only: no vertical forms, no ligatures
    options.drop_tables += ["vhea", "vmtx", "VORG", "BASE", "DSIG"]
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 11, 13, 14]  # keep copyright, names and license
    options.name_languages = ["*"]
    options.hinting = False  # the chart draws at 20–48 px, where CFF hints change little; saves ~15 %
    options.desubroutinize = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(char) for char in chars if ord(char) in cmap])
    subsetter.subset(font)
    output.parent.mkdir(parents=True, exist_ok=True)
    font.recalcTimestamp = False  # keep the source's date: the same input gives the same bytes
    font.save(str(output))
    return len(font.getGlyphOrder()), missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="font file (.otf/.ttf/.ttc)")
    parser.add_argument("--face", default=DEFAULT_FACE, help="face name inside a collection")
    parser.add_argument("--data-dir", type=Path, default=PROJECT / "data", help="sample data whose characters to keep")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    chars = characters(args.data_dir)
    glyphs, missing = subset_font(open_face(args.source, args.face), chars, args.output)
    hanzi = sum(1 for char in chars if "\u4e00" <= char <= "\u9fff")
    print(f"{args.output}: {args.output.stat().st_size:,} bytes, {glyphs:,} glyphs, "
          f"{len(chars) - len(missing):,} of {len(chars):,} characters ({hanzi:,} hanzi requested)")
    if missing:
        print("not in the source font: " + " ".join(f"U+{ord(c):04X}" for c in missing), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
