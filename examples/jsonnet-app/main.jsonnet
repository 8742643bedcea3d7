// Top-level arguments: replicas (code), image (string).
local app = import 'app.libsonnet';

function(replicas=1, image='nginx:latest') {
  deployment: app.deployment('guestbook', image, replicas),
  service: app.service('guestbook'),
}
