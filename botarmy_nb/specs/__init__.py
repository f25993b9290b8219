"""Team specs: YAML teams, AutoGen component teams and the catalogue that finds them."""

DEFAULT_TEAM = "writers-room"  # the team a run without --team gets
