package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// k8sSchema checks documents against the Kubernetes API as client-go
// carries it: the strict decoder of the client-go scheme (typed objects)
// and the structured-merge-diff schema generated from the API's OpenAPI
// definitions (the one server-side apply uses).
type k8sSchema struct {
	decoder   runtime.Decoder
	converter managedfields.TypeConverter
}

func newK8sSchema() k8sSchema {
	return k8sSchema{
		decoder:   serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer(),
		converter: applyconfigurations.NewTypeConverter(scheme.Scheme),
	}
}

// validate checks every document of a manifest and returns the typed
// objects. A document fails on a field the schema does not declare, a
// value of the wrong type, a duplicate key, an unknown kind, or one of
// the field rules of validateFields.
func (k k8sSchema) validate(data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, err := k.validateDoc(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		objs = append(objs, obj)
	}
}

func (k k8sSchema) validateDoc(doc []byte) (runtime.Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("object: %w", err)
	}
	name := u.GetKind() + "/" + u.GetName()
	if _, err := k.converter.ObjectToTyped(u); err != nil {
		return nil, fmt.Errorf("%s: schema: %w", name, err)
	}
	obj, _, err := k.decoder.Decode(doc, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: decode: %w", name, err)
	}
	if errs := validateFields(obj); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", name, errs.ToAggregate())
	}
	return obj, nil
}

// stripComments drops the comment lines of a YAML document.
func stripComments(doc []byte) []byte {
	var out []byte
	for l := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l...)
		}
	}
	return out
}

// validateFields applies the field rules that need no cluster:
// apimachinery's checks of names, labels and selectors, and a few rules
// of the API server's own validation (names of containers, ports and
// variables, port numbers, requests not above limits, mounts naming a
// volume, selectors matching the template, a Job's completion mode and
// restart policy).
func validateFields(obj runtime.Object) field.ErrorList {
	meta := field.NewPath("metadata")
	spec := field.NewPath("spec")
	switch o := obj.(type) {
	case *appsv1.Deployment:
		errs := objectMeta(&o.ObjectMeta, meta)
		errs = append(errs, selectorMatches(o.Spec.Selector, o.Spec.Template.Labels, spec)...)
		return append(errs, podSpec(&o.Spec.Template.Spec, spec.Child("template", "spec"))...)
	case *batchv1.Job:
		errs := objectMeta(&o.ObjectMeta, meta)
		if m := o.Spec.CompletionMode; m != nil && !slices.Contains([]batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}, *m) {
			errs = append(errs, field.NotSupported(spec.Child("completionMode"), *m, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
		if m := o.Spec.CompletionMode; m != nil && *m == batchv1.IndexedCompletion && o.Spec.Completions == nil {
			errs = append(errs, field.Required(spec.Child("completions"), "when completionMode is Indexed"))
		}
		for _, n := range []struct {
			name string
			v    *int32
		}{{"completions", o.Spec.Completions}, {"parallelism", o.Spec.Parallelism}, {"backoffLimit", o.Spec.BackoffLimit}} {
			if n.v != nil && *n.v < 0 {
				errs = append(errs, field.Invalid(spec.Child(n.name), *n.v, "must be greater than or equal to 0"))
			}
		}
		pod := spec.Child("template", "spec")
		if p := o.Spec.Template.Spec.RestartPolicy; p != corev1.RestartPolicyNever && p != corev1.RestartPolicyOnFailure {
			errs = append(errs, field.NotSupported(pod.Child("restartPolicy"), p, []corev1.RestartPolicy{corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure}))
		}
		return append(errs, podSpec(&o.Spec.Template.Spec, pod)...)
	case *corev1.Service:
		errs := objectMeta(&o.ObjectMeta, meta)
		errs = append(errs, metavalidation.ValidateLabels(o.Spec.Selector, spec.Child("selector"))...)
		for i, p := range o.Spec.Ports {
			errs = append(errs, portNum(int(p.Port), spec.Child("ports").Index(i).Child("port"))...)
		}
		return errs
	case *corev1.PersistentVolumeClaim:
		errs := objectMeta(&o.ObjectMeta, meta)
		if len(o.Spec.AccessModes) == 0 {
			errs = append(errs, field.Required(spec.Child("accessModes"), "at least one access mode"))
		}
		if _, ok := o.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			errs = append(errs, field.Required(spec.Child("resources", "requests", "storage"), ""))
		}
		return errs
	}
	return field.ErrorList{field.NotSupported(field.NewPath("kind"), obj.GetObjectKind().GroupVersionKind().Kind, []string{"Deployment", "Job", "Service", "PersistentVolumeClaim"})}
}

func objectMeta(m *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	return apivalidation.ValidateObjectMeta(m, false, apivalidation.NameIsDNSSubdomain, p)
}

func selectorMatches(sel *metav1.LabelSelector, labels map[string]string, spec *field.Path) field.ErrorList {
	p := spec.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	errs := metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, p)
	if len(errs) > 0 {
		return errs
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return field.ErrorList{field.Invalid(p, sel, err.Error())}
	}
	if s.Empty() || !s.Matches(labelSet(labels)) {
		errs = append(errs, field.Invalid(spec.Child("template", "metadata", "labels"), labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// labelSet adapts a map to labels.Labels.
type labelSet map[string]string

func (l labelSet) Has(k string) bool   { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) {
	v, ok := l[k]
	return v, ok
}

func portNum(n int, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(n) {
		errs = append(errs, field.Invalid(p, n, msg))
	}
	return errs
}

func podSpec(s *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := map[string]bool{}
	for i, v := range s.Volumes {
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			errs = append(errs, field.Invalid(p.Child("volumes").Index(i).Child("name"), v.Name, msg))
		}
		volumes[v.Name] = true
	}
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	for i, c := range s.Containers {
		cp := p.Child("containers").Index(i)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
		}
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		}
		for j, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(cp.Child("env").Index(j).Child("name"), e.Name, msg))
			}
		}
		for j, port := range c.Ports {
			pp := cp.Child("ports").Index(j)
			errs = append(errs, portNum(int(port.ContainerPort), pp.Child("containerPort"))...)
			if port.Name != "" {
				for _, msg := range validation.IsValidPortName(port.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
				}
			}
		}
		for name, limit := range c.Resources.Limits {
			if req, ok := c.Resources.Requests[name]; ok && req.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(cp.Child("resources", "requests").Key(string(name)), req.String(), "must be less than or equal to "+string(name)+" limit of "+limit.String()))
			}
		}
		for j, m := range c.VolumeMounts {
			mp := cp.Child("volumeMounts").Index(j)
			if !volumes[m.Name] {
				errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
			}
			if m.SubPath != "" && m.SubPathExpr != "" {
				errs = append(errs, field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
		}
	}
	return errs
}

func TestK8sManifestsMatchAPISchema(t *testing.T) {
	k := newK8sSchema()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under deploy/k8s (%v)", err)
	}
	var kinds []string
	for _, f := range files {
		objs, err := k.validate(readFile(t, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, o := range objs {
			kinds = append(kinds, fmt.Sprintf("%T", o))
		}
	}
	slices.Sort(kinds)
	want := []string{"*v1.Deployment", "*v1.Job", "*v1.Job", "*v1.PersistentVolumeClaim", "*v1.Service"}
	if !t.Failed() && !slices.Equal(kinds, want) {
		t.Errorf("decoded %q, want %q", kinds, want)
	}
}

// TestK8sSchemaRejectsBrokenManifests validates copies of the manifests
// with one mistake each (testdata/k8s-broken); each must fail, naming the
// field.
func TestK8sSchemaRejectsBrokenManifests(t *testing.T) {
	k := newK8sSchema()
	tests := []struct {
		file string
		want []string // all in the error
	}{
		{"misspelled-field.yaml", []string{"Job/asyncbench-loadgen", "parallelizm", "not declared in schema"}},
		{"string-for-int.yaml", []string{"Job/asyncbench-loadgen", ".spec.completions", "expected numeric"}},
		{"bad-quantity.yaml", []string{"Deployment/asyncbench-server", "quantities must match"}},
		{"duplicate-key.yaml", []string{"document 2", `key "port" already set`}},
		{"unknown-kind.yaml", []string{"Jobb/asyncbench-loadgen", `no kind "Jobb" is registered`}},
		{"completion-mode.yaml", []string{"spec.completionMode", `"Indexd"`}},
		{"selector-mismatch.yaml", []string{"spec.template.metadata.labels", "does not match"}},
		{"mount-without-volume.yaml", []string{"volumeMounts[0].name", `"result"`}},
		{"bad-name.yaml", []string{"metadata.name", "RFC 1123"}},
	}
	files, _ := filepath.Glob("testdata/k8s-broken/*.yaml")
	if len(files) != len(tests) {
		t.Errorf("testdata/k8s-broken has %d files, the table %d", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			_, err := k.validate(readFile(t, filepath.Join("testdata/k8s-broken", tt.file)))
			if err == nil {
				t.Fatal("validated; want an error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
