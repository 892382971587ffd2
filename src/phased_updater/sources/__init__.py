"""Where facts come from: Launchpad and the Error Tracker, read into `model` values,
and the overrides kept in a git branch (`git_overrides`, which runs git).

The only package that imports launchpadlib, lazr or requests, or runs git; its errors
leave it as its own (`LaunchpadFailure`, `ErrorTrackerFailure`, `LookupFailed`,
`SetupError`, `NoCopy`).
"""
