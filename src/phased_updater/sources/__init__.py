"""Where facts come from: Launchpad and the Error Tracker, read into `model` values.

The only package that imports launchpadlib, lazr or requests; its errors leave it as
its own (`LaunchpadFailure`, `ErrorTrackerFailure`, `LookupFailed`, `SetupError`).
"""
