"""Writes the two xlsx reference files with openpyxl alone (never mexlab's code), as the releases lay
them out. Run once by hand; the files are committed:  .venv/bin/python tests/data/formats/make_xlsx.py"""

from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent / "import"

# CASME II (CASME2-coding-20140508.xlsx): header on the first row, frames as numbers, '/' for an
# unknown apex, subjects as text '01'
casme2 = [
    ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units", "Estimated Emotion"],
    ["01", "EP02_01f", 46, 59, 86, None, "12", "happiness"],
    ["01", "EP03_02", 131, 139, 161, None, "L10", "disgust"],
    ["01", "EP02_01f", 121, "/", 161, None, "4+L10", "repression"],
    ["01", "EP02_01f", 211, 232, 301, None, "R12C+AU14", "others"],
]

# SAMM (SAMM_Micro_FACS_Codes_v2.xlsx): title and notes rows above the header; 200 fps
samm = [
    ["SAMM Micro-Expression Database - FACS codes"],
    [None],
    ["Inducement Code: the stimulus shown (see the paper)"],
    [None],
    [
        "Subject",
        "Filename",
        "Inducement Code",
        "Onset Frame",
        "Apex Frame",
        "Offset Frame",
        "Duration",
        "Type",
        "Action Units",
        "Notes",
        "Estimated Emotion",
    ],
    ["006", "006_1_2", 1, 5562, 5588, 5632, 71, "Micro - 1/2", "R12+R15", "smirk", "Contempt"],
    ["006", "006_1_2", 1, 6000, 6100, 6400, 401, "Macro", "4+7", None, "Anger"],
    ["007", "007_6_1", 6, 1003, 1040, 1080, 78, "Micro - 1/2", "1+2", None, "Surprise"],
]

for name, rows in (("casme2_coding.xlsx", casme2), ("samm_codes.xlsx", samm)):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(HERE / name)
    print("wrote", HERE / name)
