"""Mail about stopped updates: compose (`message`), queue (`outbox`), choose recipients
(`recipients`), hand to the relay (`smtp`), and wire it all into a run (`session`).

The only package that imports smtplib.
"""
