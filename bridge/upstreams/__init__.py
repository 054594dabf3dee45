"""Clients of the national systems (SATUSEHAT, BPJS, DHIS2): the only code here that talks HTTP upstream."""
