"""Hand-written BPJS payloads following the catalogue field lists in bpjs.md (no public samples exist)."""

import copy

PESERTA = {
    "cob": {"nmAsuransi": None, "noAsuransi": None, "tglTAT": None, "tglTMT": None},
    "hakKelas": {"kode": "3", "keterangan": "KELAS III"},
    "informasi": {"dinsos": None, "noSKTM": None, "prolanisPRB": None, "eSEP": "True"},
    "jenisPeserta": {"kode": "21", "keterangan": "PBI (APBN)"},
    "mr": {"noMR": "123456", "noTelepon": "081234567890"},
    "nama": "SITI AMINAH",
    "nik": "3507014501800001",
    "noKartu": "0001234567890",
    "pisa": "1",
    "provUmum": {"kdProvider": "03050301", "nmProvider": "PUSKESMAS KEPANJEN"},
    "sex": "P",
    "statusPeserta": {"kode": "0", "keterangan": "AKTIF"},
    "tglCetakKartu": "2019-03-11",
    "tglLahir": "1980-01-05",
    "tglTAT": "2030-12-31",
    "tglTMT": "2014-01-01",
    "umur": {"umurSaatPelayanan": "46 tahun ,10 bulan ,15 hari", "umurSekarang": "46 tahun ,10 bulan ,19 hari"},
}

RUJUKAN_FKTP = {
    "rujukan": {
        "noKunjungan": "030107010217Y001465",
        "tglKunjungan": "2026-11-20",
        "keluhan": "nyeri dada kiri sejak 2 hari",
        "diagnosa": {"kode": "I20.9", "nama": "Angina pectoris, unspecified"},
        "pelayanan": {"kode": "2", "nama": "Rawat Jalan"},
        "poliRujukan": {"kode": "JAN", "nama": "JANTUNG DAN PEMBULUH DARAH"},
        "provPerujuk": {"kode": "03050301", "nama": "PUSKESMAS KEPANJEN"},
        "peserta": PESERTA,
    }
}

RUJUKAN_RS = copy.deepcopy(RUJUKAN_FKTP)
RUJUKAN_RS["rujukan"].update(
    noKunjungan="0301R0011126B000012",
    keluhan="",
    provPerujuk={"kode": "0301R001", "nama": "RSUD KANJURUHAN"},
    poliRujukan={"kode": "", "nama": ""},
)

INSERT = {
    "request": {
        "t_rujukan": {
            "noSep": "0301R0011126V000003",
            "tglRujukan": "2026-11-24",
            "tglRencanaKunjungan": "2026-11-27",
            "ppkDirujuk": "0301R002",
            "jnsPelayanan": "2",
            "catatan": "mohon penanganan lanjut",
            "diagRujukan": "I20.9",
            "tipeRujukan": "0",
            "poliRujukan": "JAN",
            "user": "operator rs",
        }
    }
}

KUNJUNGAN = {
    "noKunjungan": None,
    "noKartu": "0001234567890",
    "tglDaftar": "20-11-2026",
    "kdPoli": None,
    "keluhan": "nyeri dada",
    "kdSadar": "01",
    "sistole": "130",
    "diastole": "85",
    "beratBadan": "62",
    "tinggiBadan": "158",
    "respRate": "20",
    "heartRate": "88",
    "lingkarPerut": "80",
    "suhu": "36.5",
    "kdStatusPulang": "4",
    "tglPulang": "20-11-2026",
    "kdDokter": "123456",
    "kdDiag1": "I20.9",
    "kdDiag2": None,
    "kdDiag3": None,
    "kdPoliRujukInternal": None,
    "rujukLanjut": {
        "tglEstRujuk": "23-11-2026",
        "kdppk": "0301R001",
        "subSpesialis": {"kdSubSpesialis1": "3", "kdSarana": None},
        "khusus": None,
    },
    "kdTacc": "0",
    "alasanTacc": None,
    "anamnesa": "nyeri dada kiri menjalar",
    "alergiMakan": "00",
    "alergiUdara": "00",
    "alergiObat": "00",
    "kdPrognosa": "01",
    "terapiObat": "ISDN 5 mg",
    "terapiNonObat": "istirahat",
    "bmhp": None,
}

PCARE_RUJUKAN = {
    "noRujukan": "030107011126Y000123",
    "ppk": {
        "kdPPK": "0301R001",
        "nmPPK": "RSUD KANJURUHAN",
        "alamat": "Jl. Panji 100, Kepanjen",
        "kc": {
            "kdKC": "1301",
            "nmKC": "MALANG",
            "alamat": None,
            "telp": "0341123456",
            "fax": None,
            "kdKR": {"kdKR": "13", "nmKR": "KEDEPUTIAN WILAYAH JAWA TIMUR", "alamat": None, "telp": None, "fax": None},
            "dati": {"kdProp": "15", "kdDati": "0227", "nmDati": "KAB. MALANG"},
        },
    },
    "tglKunjungan": "20-11-2026",
    "poli": {"kdPoli": "JAN", "nmPoli": "JANTUNG DAN PEMBULUH DARAH"},
    "nokaPst": "0001234567890",
    "nmPst": "SITI AMINAH",
    "tglLahir": "05-01-1980",
    "pisa": "1",
    "ketPisa": "Peserta",
    "sex": "P",
    "diag1": {"kdDiag": "I20.9", "nmDiag": "Angina pectoris, unspecified"},
    "diag2": {"kdDiag": "E11.9", "nmDiag": "Type 2 diabetes mellitus without complications"},
    "diag3": None,
    "catatan": "",
    "dokter": {"kdDokter": "123456", "nmDokter": "dr. Rina"},
    "tacc": None,
    "infoDenda": None,
    "tglEstRujuk": "23-11-2026",
    "tglAkhirRujuk": "21-02-2027",
}
