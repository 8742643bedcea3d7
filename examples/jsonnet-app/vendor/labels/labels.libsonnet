// A vendored library (jsonnet-bundler layout), found through the app's vendor/.
{
  common(name):: { app: name, 'app.kubernetes.io/managed-by': 'syncwright' },
}
