//! SMS codec: GSM 03.38 / UCS-2 alphabets, segmentation, PDUs (3GPP TS 23.038, 23.040).
