"""Interoperability with the standards the credential ecosystem publishes in.

- `vc`: the Verifiable Credentials envelope: compact VC-JWT decoding (VCDM 1.1 `vc` claim or a
  VCDM 2.0 payload), credential types, VCDM 1.1 and 2.0 date fields.
- `ob3`: Open Badges 3.0 and CLR 2.0 credentials in, learner records out (the record readers
  call it when a file's content is a credential).
- `ctdl_export`: a rule set in, Credential Engine CTDL JSON-LD out (a lossy projection).
- `ctdl_import`: CTDL TransferValueProfiles and TransferAgreements in, a `.stack` transfer
  block out.

This package imports nothing at load time, so the record readers can use `ob3` without
pulling in the rule compiler that the CTDL modules need.
"""
