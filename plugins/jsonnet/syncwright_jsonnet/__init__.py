"""syncwright-jsonnet: Jsonnet sources (Argo CD's Directory type with *.jsonnet files)."""
