"""The report of a run: read (`input`), shaped for people (`view`, `page`, `timeline`)
and for tools (`document`), written (`publish`) and served (`server`)."""
