"""ICAO Doc 9303 eMRTD logic without I/O: TLV, MRZ, BAC, secure messaging, LDS, PA."""
