// Package deploy holds no code. Its tests parse docker-compose.yml,
// docker/Dockerfile and the Kubernetes manifests under deploy/k8s and check
// the keys that scripts/compose-*.sh and the deployment recipes rely on.
package deploy
