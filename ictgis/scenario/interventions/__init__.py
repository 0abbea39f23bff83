"""The intervention types of scenario files: one module each, declaring ``INTERVENTION`` (an `Intervention`).

A module dropped here is a new ``type:``: `ictgis.scenario.registry` finds it; nothing else is edited (then
regenerate ``scenarios/scenario.schema.json`` with ``ictgis scenario schema``).
"""
