#!/usr/bin/env python3
"""Write a 医薬品マスター (y) of N records in its published layout (every value quoted, record kind Y
in column 2, 42 fields, Shift_JIS, CRLF), for timing `midnet site masters import` on a master of
real size (the published y master holds about 20,000 records).

    python3 scripts/make_drug_master.py 20000 y20k.csv
    midnet site init --site s && time midnet site masters import --site s y20k.csv
"""
import sys


def record(i: int) -> str:
    fields = [""] * 42
    fields[0] = "0"
    fields[1] = "Y"
    fields[2] = "62%07d" % (i + 1)  # 医薬品コード: 9 digits beginning with 6
    fields[4] = "テスト薬%d" % i  # 漢字名称
    fields[27] = "1"  # 剤形: 内用
    fields[29] = "20240401"  # 変更年月日
    fields[30] = "99999999"  # 廃止年月日: in use
    fields[31] = "%07dF%04d" % (1000000 + i % 9000000, i % 10000)  # YJ code
    fields[34] = fields[4]  # 基本漢字名称
    return ",".join('"%s"' % v for v in fields) + "\r\n"


def main() -> None:
    count, out = int(sys.argv[1]), sys.argv[2]
    with open(out, "wb") as f:
        f.write("".join(record(i) for i in range(count)).encode("shift_jis"))


if __name__ == "__main__":
    main()
