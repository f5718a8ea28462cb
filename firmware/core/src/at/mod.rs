//! AT command syntax (3GPP TS 27.005 / 27.007, ITU-T V.250) and a sans-I/O response parser.
