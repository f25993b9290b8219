"""BMAD-compatible cores: load and validate agents, teams, workflows and templates."""
