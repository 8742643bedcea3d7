"""syncwright-directory: plain YAML/JSON manifests (Argo CD's Directory source type)."""
