// Package deploy holds no code. Its tests parse docker-compose.yml,
// docker/Dockerfile and the Kubernetes manifests under deploy/k8s and check
// the keys that scripts/compose-*.sh and the deployment recipes rely on;
// the manifests are also checked against the Kubernetes API schema of
// k8s.io/client-go (deploy/k8s/README.md says what is checked).
package deploy
