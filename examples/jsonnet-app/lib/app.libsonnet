// Found through directory.jsonnet.libs.
local labels = import 'labels/labels.libsonnet';
{
  deployment(name, image, replicas):: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: name, labels: labels.common(name) },
    spec: {
      replicas: replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: labels.common(name) },
        spec: { containers: [{ name: name, image: image, ports: [{ containerPort: 80 }] }] },
      },
    },
  },
  service(name):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: name, labels: labels.common(name) },
    spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 80 }] },
  },
}
