"""National language shift tables of 3GPP TS 23.038 (Annex A), for the GSM 7-bit alphabet.

A message coded in the GSM 7-bit alphabet may replace the default alphabet by a national
*locking shift* table and/or the default extension table by a national *single shift* table.
The choice travels in the User Data Header, once per segment:

==========  ====  ==========================================  =====
IEI         IEDL  value                                        UDH
==========  ====  ==========================================  =====
0x24        1     single shift table: national language id    3 octets
0x25        1     locking shift table: national language id   3 octets
==========  ====  ==========================================  =====

National language identifiers (TS 23.038 §6.2.1.2.4): 1 Turkish, 2 Spanish (single shift
only), 3 Portuguese, 4 Bengali, 5 Gujarati, 6 Hindi, 7 Kannada, 8 Malayalam, 9 Oriya,
10 Punjabi, 11 Tamil, 12 Telugu, 13 Urdu.  Id 0 means "the default table" and is handled in
:mod:`smppd.text.gsm`, which also does the encoding and decoding.

Each table below is written as eight rows of sixteen code points: row ``X0`` holds septets
0xX0..0xXF; ``----`` is a position the table leaves undefined.  Position 0x1B is the escape
to the single shift table in every locking shift table and is reserved (ESC ESC) in every
single shift table, so it is ``----`` throughout.

Sources and how they were checked: every cell was compared between the look-up tables that
ndf-zz/gsmcodecs transcribed from TS 23.038 V18.0.0 (lut/*.csv) and the tables in AOSP's
``GsmAlphabet.java`` (from TS 23.038 V9.1.1); the few cells where they disagreed were settled
with CyberChef's GSM-7 tables (TS 23.038 V16.0.0) and oFono's ``util.c`` (V8.2.0):

* 0x2C in the ten Indic and the Urdu locking shift tables is COMMA (U+002C): AOSP, oFono
  (Bengali, Gujarati) and CyberChef agree; the gsmcodecs transcription shows an apostrophe.
* Kannada locking shift 0x24 is U+0CA1 (KANNADA LETTER DDA).  The 23.038 text prints U+0CAA,
  which also sits at 0x3D; AOSP documents this as a typo and corrects it, as we do.
* Telugu single shift 0x65 is the euro sign, like every other single shift table (AOSP,
  CyberChef); the gsmcodecs transcription leaves it empty.
* Tamil single shift 0x24 is U+0BEE (gsmcodecs V18 and AOSP); CyberChef notes that older
  versions of the text printed U+0BEF there, which duplicates 0x25.
* Tamil and Telugu locking shift 0x11 stay undefined (gsmcodecs, AOSP); CyberChef lists
  U+0B91 / U+0C11, which are unassigned in Unicode.

Some single shift tables define one character twice (the Indic and Urdu tables have ``¡`` at
0x13 and 0x15 and ``*`` at 0x0B and 0x18).  Both codes decode to that character; encoding uses
the lower code.

Pure data and small helpers: imports nothing from Twisted.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "BENGALI",
    "GUJARATI",
    "HINDI",
    "IEI_LOCKING_SHIFT",
    "IEI_SINGLE_SHIFT",
    "KANNADA",
    "LANGUAGE_NAMES",
    "LOCKING_SHIFT_TABLES",
    "MALAYALAM",
    "ORIYA",
    "PORTUGUESE",
    "PUNJABI",
    "SINGLE_SHIFT_TABLES",
    "SPANISH",
    "TAMIL",
    "TELUGU",
    "TURKISH",
    "URDU",
    "Table",
    "check_languages",
    "shift_ies",
]

#: One table: 128 entries indexed by septet value; ``None`` where the table defines nothing.
Table = tuple[str | None, ...]

TURKISH = 1
SPANISH = 2
PORTUGUESE = 3
BENGALI = 4
GUJARATI = 5
HINDI = 6
KANNADA = 7
MALAYALAM = 8
ORIYA = 9
PUNJABI = 10
TAMIL = 11
TELUGU = 12
URDU = 13

#: English names of the national language identifiers.
LANGUAGE_NAMES: Mapping[int, str] = MappingProxyType(
    {
        TURKISH: "Turkish",
        SPANISH: "Spanish",
        PORTUGUESE: "Portuguese",
        BENGALI: "Bengali",
        GUJARATI: "Gujarati",
        HINDI: "Hindi",
        KANNADA: "Kannada",
        MALAYALAM: "Malayalam",
        ORIYA: "Oriya",
        PUNJABI: "Punjabi",
        TAMIL: "Tamil",
        TELUGU: "Telugu",
        URDU: "Urdu",
    }
)

#: UDH information element identifiers (TS 23.040 §9.2.3.24.15 / .16).
IEI_SINGLE_SHIFT = 0x24
IEI_LOCKING_SHIFT = 0x25

_UNDEFINED = "----"


def _table(grid: str) -> Table:
    """Return the 128-entry table written in *grid* (see the module docstring)."""
    cells: list[str | None] = []
    for line in grid.strip().splitlines():
        _label, _, row = line.partition(":")
        cells.extend(None if cell == _UNDEFINED else chr(int(cell, 16)) for cell in row.split())
    if len(cells) != 128:
        raise AssertionError(f"a shift table needs 128 cells, got {len(cells)}")
    return tuple(cells)


_LOCKING_SHIFT_GRIDS: dict[int, str] = {
    # A.3.1 Turkish
    TURKISH: """
00: 0040 00A3 0024 00A5 20AC 00E9 00F9 0131 00F2 00C7 000A 011E 011F 000D 00C5 00E5
10: 0394 005F 03A6 0393 039B 03A9 03A0 03A8 03A3 0398 039E ---- 015E 015F 00DF 00C9
20: 0020 0021 0022 0023 00A4 0025 0026 0027 0028 0029 002A 002B 002C 002D 002E 002F
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B 003C 003D 003E 003F
40: 0130 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A 00C4 00D6 00D1 00DC 00A7
60: 00E7 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 00E4 00F6 00F1 00FC 00E0
""",
    # A.3.3 Portuguese
    PORTUGUESE: """
00: 0040 00A3 0024 00A5 00EA 00E9 00FA 00ED 00F3 00E7 000A 00D4 00F4 000D 00C1 00E1
10: 0394 005F 00AA 00C7 00C0 221E 005E 005C 20AC 00D3 007C ---- 00C2 00E2 00CA 00C9
20: 0020 0021 0022 0023 00BA 0025 0026 0027 0028 0029 002A 002B 002C 002D 002E 002F
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B 003C 003D 003E 003F
40: 00CD 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A 00C3 00D5 00DA 00DC 00A7
60: 007E 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 00E3 00F5 0060 00FC 00E0
""",
    # A.3.4 Bengali
    BENGALI: """
00: 0981 0982 0983 0985 0986 0987 0988 0989 098A 098B 000A 098C ---- 000D ---- 098F
10: 0990 ---- ---- 0993 0994 0995 0996 0997 0998 0999 099A ---- 099B 099C 099D 099E
20: 0020 0021 099F 09A0 09A1 09A2 09A3 09A4 0029 0028 09A5 09A6 002C 09A7 002E 09A8
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 09AA 09AB 003F
40: 09AC 09AD 09AE 09AF 09B0 ---- 09B2 ---- ---- ---- 09B6 09B7 09B8 09B9 09BC 09BD
50: 09BE 09BF 09C0 09C1 09C2 09C3 09C4 ---- ---- 09C7 09C8 ---- ---- 09CB 09CC 09CD
60: 09CE 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 09D7 09DC 09DD 09F0 09F1
""",
    # A.3.5 Gujarati
    GUJARATI: """
00: 0A81 0A82 0A83 0A85 0A86 0A87 0A88 0A89 0A8A 0A8B 000A 0A8C 0A8D 000D ---- 0A8F
10: 0A90 0A91 ---- 0A93 0A94 0A95 0A96 0A97 0A98 0A99 0A9A ---- 0A9B 0A9C 0A9D 0A9E
20: 0020 0021 0A9F 0AA0 0AA1 0AA2 0AA3 0AA4 0029 0028 0AA5 0AA6 002C 0AA7 002E 0AA8
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 0AAA 0AAB 003F
40: 0AAC 0AAD 0AAE 0AAF 0AB0 ---- 0AB2 0AB3 ---- 0AB5 0AB6 0AB7 0AB8 0AB9 0ABC 0ABD
50: 0ABE 0ABF 0AC0 0AC1 0AC2 0AC3 0AC4 0AC5 ---- 0AC7 0AC8 0AC9 ---- 0ACB 0ACC 0ACD
60: 0AD0 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0AE0 0AE1 0AE2 0AE3 0AF1
""",
    # A.3.6 Hindi
    HINDI: """
00: 0901 0902 0903 0905 0906 0907 0908 0909 090A 090B 000A 090C 090D 000D 090E 090F
10: 0910 0911 0912 0913 0914 0915 0916 0917 0918 0919 091A ---- 091B 091C 091D 091E
20: 0020 0021 091F 0920 0921 0922 0923 0924 0029 0028 0925 0926 002C 0927 002E 0928
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B 0929 092A 092B 003F
40: 092C 092D 092E 092F 0930 0931 0932 0933 0934 0935 0936 0937 0938 0939 093C 093D
50: 093E 093F 0940 0941 0942 0943 0944 0945 0946 0947 0948 0949 094A 094B 094C 094D
60: 0950 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0972 097B 097C 097E 097F
""",
    # A.3.7 Kannada
    KANNADA: """
00: ---- 0C82 0C83 0C85 0C86 0C87 0C88 0C89 0C8A 0C8B 000A 0C8C ---- 000D 0C8E 0C8F
10: 0C90 ---- 0C92 0C93 0C94 0C95 0C96 0C97 0C98 0C99 0C9A ---- 0C9B 0C9C 0C9D 0C9E
20: 0020 0021 0C9F 0CA0 0CA1 0CA2 0CA3 0CA4 0029 0028 0CA5 0CA6 002C 0CA7 002E 0CA8
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 0CAA 0CAB 003F
40: 0CAC 0CAD 0CAE 0CAF 0CB0 0CB1 0CB2 0CB3 ---- 0CB5 0CB6 0CB7 0CB8 0CB9 0CBC 0CBD
50: 0CBE 0CBF 0CC0 0CC1 0CC2 0CC3 0CC4 ---- 0CC6 0CC7 0CC8 ---- 0CCA 0CCB 0CCC 0CCD
60: 0CD5 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0CD6 0CE0 0CE1 0CE2 0CE3
""",
    # A.3.8 Malayalam
    MALAYALAM: """
00: ---- 0D02 0D03 0D05 0D06 0D07 0D08 0D09 0D0A 0D0B 000A 0D0C ---- 000D 0D0E 0D0F
10: 0D10 ---- 0D12 0D13 0D14 0D15 0D16 0D17 0D18 0D19 0D1A ---- 0D1B 0D1C 0D1D 0D1E
20: 0020 0021 0D1F 0D20 0D21 0D22 0D23 0D24 0029 0028 0D25 0D26 002C 0D27 002E 0D28
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 0D2A 0D2B 003F
40: 0D2C 0D2D 0D2E 0D2F 0D30 0D31 0D32 0D33 0D34 0D35 0D36 0D37 0D38 0D39 ---- 0D3D
50: 0D3E 0D3F 0D40 0D41 0D42 0D43 0D44 ---- 0D46 0D47 0D48 ---- 0D4A 0D4B 0D4C 0D4D
60: 0D57 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0D60 0D61 0D62 0D63 0D79
""",
    # A.3.9 Oriya
    ORIYA: """
00: 0B01 0B02 0B03 0B05 0B06 0B07 0B08 0B09 0B0A 0B0B 000A 0B0C ---- 000D ---- 0B0F
10: 0B10 ---- ---- 0B13 0B14 0B15 0B16 0B17 0B18 0B19 0B1A ---- 0B1B 0B1C 0B1D 0B1E
20: 0020 0021 0B1F 0B20 0B21 0B22 0B23 0B24 0029 0028 0B25 0B26 002C 0B27 002E 0B28
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 0B2A 0B2B 003F
40: 0B2C 0B2D 0B2E 0B2F 0B30 ---- 0B32 0B33 ---- 0B35 0B36 0B37 0B38 0B39 0B3C 0B3D
50: 0B3E 0B3F 0B40 0B41 0B42 0B43 0B44 ---- ---- 0B47 0B48 ---- ---- 0B4B 0B4C 0B4D
60: 0B56 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0B57 0B60 0B61 0B62 0B63
""",
    # A.3.10 Punjabi
    PUNJABI: """
00: 0A01 0A02 0A03 0A05 0A06 0A07 0A08 0A09 0A0A ---- 000A ---- ---- 000D ---- 0A0F
10: 0A10 ---- ---- 0A13 0A14 0A15 0A16 0A17 0A18 0A19 0A1A ---- 0A1B 0A1C 0A1D 0A1E
20: 0020 0021 0A1F 0A20 0A21 0A22 0A23 0A24 0029 0028 0A25 0A26 002C 0A27 002E 0A28
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 0A2A 0A2B 003F
40: 0A2C 0A2D 0A2E 0A2F 0A30 ---- 0A32 0A33 ---- 0A35 0A36 ---- 0A38 0A39 0A3C ----
50: 0A3E 0A3F 0A40 0A41 0A42 ---- ---- ---- ---- 0A47 0A48 ---- ---- 0A4B 0A4C 0A4D
60: 0A51 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0A70 0A71 0A72 0A73 0A74
""",
    # A.3.11 Tamil
    TAMIL: """
00: ---- 0B82 0B83 0B85 0B86 0B87 0B88 0B89 0B8A ---- 000A ---- ---- 000D 0B8E 0B8F
10: 0B90 ---- 0B92 0B93 0B94 0B95 ---- ---- ---- 0B99 0B9A ---- ---- 0B9C ---- 0B9E
20: 0020 0021 0B9F ---- ---- ---- 0BA3 0BA4 0029 0028 ---- ---- 002C ---- 002E 0BA8
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B 0BA9 0BAA ---- 003F
40: ---- ---- 0BAE 0BAF 0BB0 0BB1 0BB2 0BB3 0BB4 0BB5 0BB6 0BB7 0BB8 0BB9 ---- ----
50: 0BBE 0BBF 0BC0 0BC1 0BC2 ---- ---- ---- 0BC6 0BC7 0BC8 ---- 0BCA 0BCB 0BCC 0BCD
60: 0BD0 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0BD7 0BF0 0BF1 0BF2 0BF9
""",
    # A.3.12 Telugu
    TELUGU: """
00: 0C01 0C02 0C03 0C05 0C06 0C07 0C08 0C09 0C0A 0C0B 000A 0C0C ---- 000D 0C0E 0C0F
10: 0C10 ---- 0C12 0C13 0C14 0C15 0C16 0C17 0C18 0C19 0C1A ---- 0C1B 0C1C 0C1D 0C1E
20: 0020 0021 0C1F 0C20 0C21 0C22 0C23 0C24 0029 0028 0C25 0C26 002C 0C27 002E 0C28
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B ---- 0C2A 0C2B 003F
40: 0C2C 0C2D 0C2E 0C2F 0C30 0C31 0C32 0C33 ---- 0C35 0C36 0C37 0C38 0C39 ---- 0C3D
50: 0C3E 0C3F 0C40 0C41 0C42 0C43 0C44 ---- 0C46 0C47 0C48 ---- 0C4A 0C4B 0C4C 0C4D
60: 0C55 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0C56 0C60 0C61 0C62 0C63
""",
    # A.3.13 Urdu
    URDU: """
00: 0627 0622 0628 067B 0680 067E 06A6 062A 06C2 067F 000A 0679 067D 000D 067A 067C
10: 062B 062C 0681 0684 0683 0685 0686 0687 062D 062E 062F ---- 068C 0688 0689 068A
20: 0020 0021 068F 068D 0630 0631 0691 0693 0029 0028 0699 0632 002C 0696 002E 0698
30: 0030 0031 0032 0033 0034 0035 0036 0037 0038 0039 003A 003B 069A 0633 0634 003F
40: 0635 0636 0637 0638 0639 0641 0642 06A9 06AA 06AB 06AF 06B3 06B1 0644 0645 0646
50: 06BA 06BB 06BC 0648 06C4 06D5 06C1 06BE 0621 06CC 06D0 06D2 064D 0650 064F 0657
60: 0654 0061 0062 0063 0064 0065 0066 0067 0068 0069 006A 006B 006C 006D 006E 006F
70: 0070 0071 0072 0073 0074 0075 0076 0077 0078 0079 007A 0655 0651 0653 0656 0670
""",
}

_SINGLE_SHIFT_GRIDS: dict[int, str] = {
    # A.2.1 Turkish
    TURKISH: """
00: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 000C ---- ---- ---- ---- ----
10: ---- ---- ---- ---- 005E ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
20: ---- ---- ---- ---- ---- ---- ---- ---- 007B 007D ---- ---- ---- ---- ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C ---- ---- ---- ---- ---- ---- 011E ---- 0130 ---- ---- ---- ---- ---- ----
50: ---- ---- ---- 015E ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
60: ---- ---- ---- 00E7 ---- 20AC ---- 011F ---- 0131 ---- ---- ---- ---- ---- ----
70: ---- ---- ---- 015F ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.2 Spanish
    SPANISH: """
00: ---- ---- ---- ---- ---- ---- ---- ---- ---- 00E7 000C ---- ---- ---- ---- ----
10: ---- ---- ---- ---- 005E ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
20: ---- ---- ---- ---- ---- ---- ---- ---- 007B 007D ---- ---- ---- ---- ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 00C1 ---- ---- ---- ---- ---- ---- ---- 00CD ---- ---- ---- ---- ---- 00D3
50: ---- ---- ---- ---- ---- 00DA ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
60: ---- 00E1 ---- ---- ---- 20AC ---- ---- ---- 00ED ---- ---- ---- ---- ---- 00F3
70: ---- ---- ---- ---- ---- 00FA ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.3 Portuguese
    PORTUGUESE: """
00: ---- ---- ---- ---- ---- 00EA ---- ---- ---- 00E7 000C 00D4 00F4 ---- 00C1 00E1
10: ---- ---- 03A6 0393 005E 03A9 03A0 03A8 03A3 0398 ---- ---- ---- ---- ---- 00CA
20: ---- ---- ---- ---- ---- ---- ---- ---- 007B 007D ---- ---- ---- ---- ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 00C0 ---- ---- ---- ---- ---- ---- ---- 00CD ---- ---- ---- ---- ---- 00D3
50: ---- ---- ---- ---- ---- 00DA ---- ---- ---- ---- ---- 00C3 00D5 ---- ---- ----
60: ---- 00C2 ---- ---- ---- 20AC ---- ---- ---- 00ED ---- ---- ---- ---- ---- 00F3
70: ---- ---- ---- ---- ---- 00FA ---- ---- ---- ---- ---- 00E3 00F5 ---- ---- 00E2
""",
    # A.2.4 Bengali
    BENGALI: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 09E6 09E7 ---- 09E8 09E9 09EA 09EB
20: 09EC 09ED 09EE 09EF 09DF 09E0 09E1 09E2 007B 007D 09E3 09F2 09F3 09F4 09F5 005C
30: 09F6 09F7 09F8 09F9 09FA ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.5 Gujarati
    GUJARATI: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0AE6 0AE7 0AE8 0AE9
20: 0AEA 0AEB 0AEC 0AED 0AEE 0AEF ---- ---- 007B 007D ---- ---- ---- ---- ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.6 Hindi
    HINDI: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0966 0967 0968 0969
20: 096A 096B 096C 096D 096E 096F 0951 0952 007B 007D 0953 0954 0958 0959 095A 005C
30: 095B 095C 095D 095E 095F 0960 0961 0962 0963 0970 0971 ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.7 Kannada
    KANNADA: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0CE6 0CE7 0CE8 0CE9
20: 0CEA 0CEB 0CEC 0CED 0CEE 0CEF 0CDE 0CF1 007B 007D 0CF2 ---- ---- ---- ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.8 Malayalam
    MALAYALAM: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0D66 0D67 0D68 0D69
20: 0D6A 0D6B 0D6C 0D6D 0D6E 0D6F 0D70 0D71 007B 007D 0D72 0D73 0D74 0D75 0D7A 005C
30: 0D7B 0D7C 0D7D 0D7E 0D7F ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.9 Oriya
    ORIYA: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0B66 0B67 0B68 0B69
20: 0B6A 0B6B 0B6C 0B6D 0B6E 0B6F 0B5C 0B5D 007B 007D 0B5F 0B70 0B71 ---- ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.10 Punjabi
    PUNJABI: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0A66 0A67 0A68 0A69
20: 0A6A 0A6B 0A6C 0A6D 0A6E 0A6F 0A59 0A5A 007B 007D 0A5B 0A5C 0A5E 0A75 ---- 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.11 Tamil
    TAMIL: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0964 0965 ---- 0BE6 0BE7 0BE8 0BE9
20: 0BEA 0BEB 0BEC 0BED 0BEE 0BEF 0BF3 0BF4 007B 007D 0BF5 0BF6 0BF7 0BF8 0BFA 005C
30: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.12 Telugu
    TELUGU: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A ---- ---- ---- 0C66 0C67 0C68 0C69
20: 0C6A 0C6B 0C6C 0C6D 0C6E 0C6F 0C58 0C59 007B 007D 0C78 0C79 0C7A 0C7B 0C7C 005C
30: 0C7D 0C7E 0C7F ---- ---- ---- ---- ---- ---- ---- ---- ---- 005B 007E 005D ----
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
    # A.2.13 Urdu
    URDU: """
00: 0040 00A3 0024 00A5 00BF 0022 00A4 0025 0026 0027 000C 002A 002B ---- 002D 002F
10: 003C 003D 003E 00A1 005E 00A1 005F 0023 002A 0600 0601 ---- 06F0 06F1 06F2 06F3
20: 06F4 06F5 06F6 06F7 06F8 06F9 060C 060D 007B 007D 060E 060F 0610 0611 0612 005C
30: 0613 0614 061B 061F 0640 0652 0658 066B 066C 0672 0673 06CD 005B 007E 005D 06D4
40: 007C 0041 0042 0043 0044 0045 0046 0047 0048 0049 004A 004B 004C 004D 004E 004F
50: 0050 0051 0052 0053 0054 0055 0056 0057 0058 0059 005A ---- ---- ---- ---- ----
60: ---- ---- ---- ---- ---- 20AC ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
70: ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ---- ----
""",
}

#: National locking shift tables by language id (Spanish has none).
LOCKING_SHIFT_TABLES: Mapping[int, Table] = MappingProxyType(
    {language: _table(grid) for language, grid in _LOCKING_SHIFT_GRIDS.items()}
)

#: National single shift tables by language id.
SINGLE_SHIFT_TABLES: Mapping[int, Table] = MappingProxyType(
    {language: _table(grid) for language, grid in _SINGLE_SHIFT_GRIDS.items()}
)

del _LOCKING_SHIFT_GRIDS, _SINGLE_SHIFT_GRIDS


def check_languages(locking_shift: int, single_shift: int) -> None:
    """Raise ``ValueError`` unless both ids name a table (0 = the default table)."""
    if locking_shift != 0 and locking_shift not in LOCKING_SHIFT_TABLES:
        raise ValueError(f"no national locking shift table for language id {locking_shift!r}")
    if single_shift != 0 and single_shift not in SINGLE_SHIFT_TABLES:
        raise ValueError(f"no national single shift table for language id {single_shift!r}")


def shift_ies(locking_shift: int = 0, single_shift: int = 0) -> bytes:
    """Return the UDH information elements selecting these tables, without a UDHL octet.

    ``b""`` when both are the default table; otherwise ``24 01 <single>`` and/or
    ``25 01 <locking>``, in that order.
    """
    check_languages(locking_shift, single_shift)
    ies = b""
    if single_shift:
        ies += bytes((IEI_SINGLE_SHIFT, 1, single_shift))
    if locking_shift:
        ies += bytes((IEI_LOCKING_SHIFT, 1, locking_shift))
    return ies
