package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/awningproxy/awning/config"
	"github.com/awningproxy/awning/internal/testkit"
	"github.com/awningproxy/awning/node"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// The tests in this file hold the files under deploy/ to the binary they
// deploy: every command line names commands and flags that exist, every
// configuration they mount passes `awning check-config`, ports agree with
// the configuration's listen addresses, and probe and metrics paths are
// ones a node serves. Containers cannot run here; these checks are what
// can be proven without them.

const deployDir = "../../deploy"

// commandLine checks args (without the program name) against the command
// tree and returns the command and its parsed flags.
func commandLine(t *testing.T, where string, args []string) (name string, flag func(string) string) {
	t.Helper()
	cmd, err := findCommand(args)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, args, err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		t.Fatalf("%s: %q: %v", where, args, err)
	}
	return cmd.Name(), func(f string) string {
		v, err := cmd.Flags().GetString(f)
		if err != nil {
			t.Fatalf("%s: flag --%s: %v", where, f, err)
		}
		return v
	}
}

// findCommand finds the command args name in the command tree and parses
// its flags. Cobra's Find stops at a parent whose subcommand it does not
// know; that is an error here, as is a parent that does nothing alone.
func findCommand(args []string) (*cobra.Command, error) {
	root := rootCommand(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return nil, err
	}
	if cmd == root {
		return nil, errors.New("names no awning command")
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, err
	}
	if cmd.HasSubCommands() {
		if a := cmd.Flags().Args(); len(a) > 0 {
			return nil, fmt.Errorf("%q has no subcommand %q", cmd.CommandPath(), a[0])
		}
		if !cmd.Runnable() {
			return nil, fmt.Errorf("%q needs a subcommand", cmd.CommandPath())
		}
	}
	return cmd, nil
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// listenPorts returns the ports a configuration listens on, by name as the
// deploy files call them.
func listenPorts(t *testing.T, cfg *config.Config) map[string]int {
	t.Helper()
	p := map[string]int{"http": port(t, cfg.Listen.HTTP), "admin": port(t, cfg.Listen.Admin)}
	if cfg.TLS.Mode != "off" {
		p["https"] = port(t, cfg.Listen.HTTPS)
	}
	return p
}

// dockerfile is what the tests need from deploy/Dockerfile.
type dockerfile struct {
	entrypoint, cmd []string
	expose          []int
	user            string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	stage := 0
	for _, line := range strings.Split(string(b), "\n") {
		instr, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch instr {
		case "FROM":
			stage++
		case "ENTRYPOINT":
			json.Unmarshal([]byte(arg), &d.entrypoint)
		case "CMD":
			json.Unmarshal([]byte(arg), &d.cmd)
		case "EXPOSE":
			for _, f := range strings.Fields(arg) {
				n, _ := strconv.Atoi(f)
				d.expose = append(d.expose, n)
			}
		case "USER":
			d.user = arg
		}
	}
	if stage != 2 {
		t.Errorf("Dockerfile has %d stages; want 2 (build, then a runtime image)", stage)
	}
	if !slices.Equal(d.entrypoint, []string{"/awning"}) {
		t.Errorf("ENTRYPOINT %q; want [\"/awning\"]", d.entrypoint)
	}
	return d
}

func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)
	name, flag := commandLine(t, "Dockerfile CMD", d.cmd)
	if name != "serve" || flag("config") != "/etc/awning/awning.yaml" {
		t.Errorf("CMD %q; want serve --config /etc/awning/awning.yaml", d.cmd)
	}
	if d.user == "" || strings.HasPrefix(d.user, "0") || strings.HasPrefix(d.user, "root") {
		t.Errorf("USER %q; want a non-root user", d.user)
	}
	b, _ := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	for _, want := range []string{"CGO_ENABLED=0", "distroless/static", "./cmd/awning"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command         []string       `yaml:"command"`
		Ports           []string       `yaml:"ports"`
		Volumes         []string       `yaml:"volumes"`
		DependsOn       map[string]any `yaml:"depends_on"`
		StopGracePeriod string         `yaml:"stop_grace_period"`
	} `yaml:"services"`
}

// TestComposeAgreesWithBinary: deploy/compose.yaml runs commands that
// exist, mounts configurations that pass check-config, publishes the
// ports they listen on, and points the nodes at its own Redis and shop.
func TestComposeAgreesWithBinary(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	d := readDockerfile(t)
	shopPorts := map[string]int{} // service → port its demo shop listens on
	var nodes []string
	for name, svc := range cf.Services {
		if svc.Image != "awning:dev" {
			continue
		}
		if svc.Build == nil || filepath.Join(deployDir, svc.Build.Context, svc.Build.Dockerfile) != filepath.Join(deployDir, "Dockerfile") {
			t.Errorf("service %s: build %+v; want deploy/Dockerfile from the repository root", name, svc.Build)
		}
		cmd, flag := commandLine(t, "compose service "+name, svc.Command)
		switch cmd {
		case "demo":
			shopPorts[name] = port(t, flag("shop"))
		case "serve":
			nodes = append(nodes, name)
		default:
			t.Errorf("service %s runs %q", name, cmd)
		}
	}
	if len(nodes) != 2 || len(shopPorts) != 1 {
		t.Fatalf("compose.yaml runs nodes %v and shops %v; want two nodes and one shop", nodes, shopPorts)
	}
	for _, name := range nodes {
		svc := cf.Services[name]
		_, flag := commandLine(t, name, svc.Command)
		var file string
		for _, v := range svc.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == flag("config") {
				file = filepath.Join(deployDir, parts[0])
			}
		}
		if file == "" {
			t.Fatalf("service %s: --config %s is not mounted", name, flag("config"))
		}
		cfg, err := node.Check(file)
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		var published []int
		for _, p := range svc.Ports {
			parts := strings.Split(p, ":")
			n, _ := strconv.Atoi(parts[len(parts)-1])
			published = append(published, n)
			if !slices.Contains(d.expose, n) {
				t.Errorf("service %s publishes %d, which the Dockerfile does not EXPOSE (%v)", name, n, d.expose)
			}
		}
		for what, p := range listenPorts(t, cfg) {
			if !slices.Contains(published, p) {
				t.Errorf("service %s: listen.%s port %d is not published (%v)", name, what, p, published)
			}
		}
		for _, p := range published {
			if !slices.Contains(mapsValues(listenPorts(t, cfg)), p) {
				t.Errorf("service %s publishes %d, which its configuration does not listen on", name, p)
			}
		}
		redisHost := strings.TrimPrefix(cfg.State.Redis, "redis://")
		redisHost, _, _ = strings.Cut(redisHost, ":")
		if _, ok := cf.Services[redisHost]; !ok || svc.DependsOn[redisHost] == nil {
			t.Errorf("service %s: state.redis %q is not a service it depends on", name, cfg.State.Redis)
		}
		for _, s := range cfg.Sites {
			for _, u := range s.Origin.URLs {
				host, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
				if want, ok := shopPorts[host]; !ok || strconv.Itoa(want) != p || svc.DependsOn[host] == nil {
					t.Errorf("service %s: origin %s is not the shop service's --shop address", name, u)
				}
			}
		}
		grace, err := time.ParseDuration(svc.StopGracePeriod)
		if err != nil || grace <= cfg.Listen.DrainTimeout.D() {
			t.Errorf("service %s: stop_grace_period %q; want longer than listen.drain_timeout (%s)", name, svc.StopGracePeriod, cfg.Listen.DrainTimeout)
		}
	}
}

func mapsValues(m map[string]int) []int {
	var v []int
	for _, x := range m {
		v = append(v, x)
	}
	return v
}

// k8sObject is the part of a Kubernetes object the tests read; the rest
// is kept as raw YAML in doc.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	doc []byte
}

func (o k8sObject) decode(t *testing.T, v any) {
	t.Helper()
	if err := yaml.Unmarshal(o.doc, v); err != nil {
		t.Fatalf("%s %s: %v", o.Kind, o.Metadata.Name, err)
	}
}

func readKubernetes(t *testing.T) (map[string][]k8sObject, []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	objs := map[string][]k8sObject{}
	var names []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		names = append(names, filepath.Base(f))
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			var node yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &node); err != nil {
				t.Fatalf("%s, document %d: %v", f, i, err)
			}
			if len(node.Content) == 0 {
				continue // only comments
			}
			var o k8sObject
			if err := node.Decode(&o); err != nil {
				t.Fatalf("%s, document %d: %v", f, i, err)
			}
			if o.Kind == "" || o.Metadata.Name == "" {
				t.Fatalf("%s, document %d: no kind or name", f, i)
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != "awning" {
				t.Errorf("%s %s: namespace %q; want awning", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			o.doc = []byte(doc)
			objs[o.Kind] = append(objs[o.Kind], o)
		}
	}
	return objs, names
}

type k8sProjection struct {
	Name  string `yaml:"name"`
	Items []struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	} `yaml:"items"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sDeployment struct {
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []struct {
					Name  string   `yaml:"name"`
					Image string   `yaml:"image"`
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					ReadinessProbe k8sProbe `yaml:"readinessProbe"`
					LivenessProbe  k8sProbe `yaml:"livenessProbe"`
					Lifecycle      struct {
						PreStop struct {
							Sleep struct {
								Seconds int `yaml:"seconds"`
							} `yaml:"sleep"`
						} `yaml:"preStop"`
					} `yaml:"lifecycle"`
					Resources struct {
						Requests map[string]string `yaml:"requests"`
						Limits   map[string]string `yaml:"limits"`
					} `yaml:"resources"`
					SecurityContext struct {
						ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
						AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
						Capabilities             struct {
							Drop []string `yaml:"drop"`
						} `yaml:"capabilities"`
					} `yaml:"securityContext"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					Projected *struct {
						Sources []struct {
							Secret    *k8sProjection `yaml:"secret"`
							ConfigMap *k8sProjection `yaml:"configMap"`
						} `yaml:"sources"`
					} `yaml:"projected"`
					EmptyDir any `yaml:"emptyDir"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestKubernetesAgreesWithBinary: the manifests run a command that
// exists with a configuration (materialized from the Secret and ConfigMap
// as the projected volume would) that passes check-config, name container
// ports after the listen addresses, probe paths a node serves, and hold
// together (selectors, the autoscaler's target, grace periods).
func TestKubernetesAgreesWithBinary(t *testing.T) {
	objs, files := readKubernetes(t)
	var kust struct {
		Resources []string `yaml:"resources"`
	}
	kb, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yaml.Unmarshal(kb, &kust)
	slices.Sort(kust.Resources)
	if !slices.Equal(kust.Resources, files) {
		t.Errorf("kustomization resources %v; want every manifest %v", kust.Resources, files)
	}
	for _, kind := range []string{"Namespace", "Secret", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} {
		if len(objs[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
	if len(objs["Deployment"]) != 1 {
		t.Fatalf("%d Deployments; want 1", len(objs["Deployment"]))
	}
	dep := objs["Deployment"][0]
	var d k8sDeployment
	dep.decode(t, &d)
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers; want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	_, flag := commandLine(t, "Deployment args", c.Args)
	configPath := flag("config")

	// Materialize the config volume as Kubernetes would project it.
	dir := t.TempDir()
	mounted := map[string]string{} // mount path → volume
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = m.Name
	}
	configVolume := mounted[filepath.Dir(configPath)]
	stateVolume := ""
	for _, v := range spec.Volumes {
		if v.Name == configVolume && v.Projected != nil {
			for _, src := range v.Projected.Sources {
				switch {
				case src.Secret != nil:
					data := secretData(t, objs, src.Secret.Name)
					for _, it := range src.Secret.Items {
						writeFile(t, filepath.Join(dir, it.Path), []byte(data[it.Key]))
					}
				case src.ConfigMap != nil:
					data := configMapData(t, objs, src.ConfigMap.Name)
					for _, it := range src.ConfigMap.Items {
						writeFile(t, filepath.Join(dir, it.Path), data[it.Key])
					}
				}
			}
		}
	}
	cfg, err := node.Check(filepath.Join(dir, filepath.Base(configPath)))
	if err != nil {
		t.Fatalf("the configuration the Deployment mounts: %v", err)
	}
	for _, v := range spec.Volumes {
		if mounted[cfg.State.Dir] == v.Name && v.EmptyDir != nil {
			stateVolume = v.Name
		}
	}
	if stateVolume == "" {
		t.Errorf("state.dir %s is not a writable volume (the root file system is read-only)", cfg.State.Dir)
	}

	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	want := listenPorts(t, cfg)
	if len(ports) != len(want) {
		t.Errorf("container ports %v; want %v, the configuration's", ports, want)
	}
	docker := readDockerfile(t)
	for name, p := range want {
		if ports[name] != p {
			t.Errorf("container port %s = %d; the configuration listens on %d", name, ports[name], p)
		}
		if !slices.Contains(docker.expose, p) {
			t.Errorf("port %d is not in the Dockerfile's EXPOSE %v", p, docker.expose)
		}
	}
	if strconv.Itoa(spec.SecurityContext.RunAsUser) != strings.Split(docker.user, ":")[0] || !spec.SecurityContext.RunAsNonRoot {
		t.Errorf("runAsUser %d, runAsNonRoot %v; want the image's user %s", spec.SecurityContext.RunAsUser, spec.SecurityContext.RunAsNonRoot, docker.user)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation || !slices.Contains(c.SecurityContext.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext %+v; want a read-only root, no escalation, every capability dropped", c.SecurityContext)
	}

	// Probe and metrics paths are served on the admin port.
	ann := d.Spec.Template.Metadata.Annotations
	paths := []string{c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path, ann["prometheus.io/path"]}
	for _, p := range []string{c.ReadinessProbe.HTTPGet.Port, c.LivenessProbe.HTTPGet.Port} {
		if p != "admin" {
			t.Errorf("a probe uses port %q; want admin", p)
		}
	}
	if ann["prometheus.io/port"] != strconv.Itoa(want["admin"]) || ann["prometheus.io/scrape"] != "true" {
		t.Errorf("prometheus annotations %v; want scrape on the admin port %d", ann, want["admin"])
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("readiness %q, liveness %q; want /readyz and /healthz", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	adminServes(t, paths)

	// Draining fits in the grace period.
	drain := cfg.Listen.DrainTimeout.D()
	grace := time.Duration(spec.TerminationGracePeriodSeconds) * time.Second
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	if preStop == 0 || grace < preStop+drain+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s; want at least preStop (%s) + drain_timeout (%s) + 5s", grace, preStop, drain)
	}
	// Memory: the cache and GOMEMLIMIT below the limit.
	limit := mustSize(t, c.Resources.Limits["memory"])
	if int64(cfg.Cache.Memory) >= limit {
		t.Errorf("cache.memory %s does not fit the memory limit %s", cfg.Cache.Memory, c.Resources.Limits["memory"])
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && mustSize(t, e.Value) >= limit {
			t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", e.Value, c.Resources.Limits["memory"])
		}
	}
	if c.Resources.Requests["cpu"] == "" {
		t.Error("no CPU request: the autoscaler's utilization target needs one")
	}
	if d.Spec.Replicas != nil {
		t.Error("the Deployment sets replicas; the autoscaler owns them")
	}

	// Selectors and targets hold together.
	labels := d.Spec.Template.Metadata.Labels
	matches := func(sel map[string]string) bool {
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !matches(d.Spec.Selector.MatchLabels) {
		t.Errorf("the Deployment's selector %v does not match its pods %v", d.Spec.Selector.MatchLabels, labels)
	}
	for _, s := range objs["Service"] {
		var svc struct {
			Spec struct {
				Selector map[string]string `yaml:"selector"`
				Ports    []struct {
					TargetPort string `yaml:"targetPort"`
				} `yaml:"ports"`
			} `yaml:"spec"`
		}
		s.decode(t, &svc)
		if !matches(svc.Spec.Selector) {
			t.Errorf("Service %s selects %v, not the pods %v", s.Metadata.Name, svc.Spec.Selector, labels)
		}
		for _, p := range svc.Spec.Ports {
			if _, ok := ports[p.TargetPort]; !ok {
				t.Errorf("Service %s targets port %q; the container has %v", s.Metadata.Name, p.TargetPort, ports)
			}
		}
	}
	for _, p := range objs["PodDisruptionBudget"] {
		var pdb struct {
			Spec struct {
				Selector struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"selector"`
			} `yaml:"spec"`
		}
		p.decode(t, &pdb)
		if !matches(pdb.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget %s selects %v, not the pods", p.Metadata.Name, pdb.Spec.Selector.MatchLabels)
		}
	}
	for _, h := range objs["HorizontalPodAutoscaler"] {
		var hpa struct {
			Spec struct {
				ScaleTargetRef struct {
					Kind string `yaml:"kind"`
					Name string `yaml:"name"`
				} `yaml:"scaleTargetRef"`
				MinReplicas int `yaml:"minReplicas"`
			} `yaml:"spec"`
		}
		h.decode(t, &hpa)
		if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Metadata.Name {
			t.Errorf("the autoscaler targets %+v; want Deployment %s", hpa.Spec.ScaleTargetRef, dep.Metadata.Name)
		}
		if hpa.Spec.MinReplicas < 2 {
			t.Errorf("minReplicas %d; want at least 2 so that one pod can drain", hpa.Spec.MinReplicas)
		}
	}
	if _, err := os.Stat(filepath.Join(deployDir, "kubernetes", "redis.md")); err != nil {
		t.Errorf("the note on Redis with Sentinel: %v", err)
	}
}

func secretData(t *testing.T, objs map[string][]k8sObject, name string) map[string]string {
	t.Helper()
	for _, o := range objs["Secret"] {
		if o.Metadata.Name == name {
			var s struct {
				StringData map[string]string `yaml:"stringData"`
			}
			o.decode(t, &s)
			return s.StringData
		}
	}
	t.Fatalf("no Secret %s", name)
	return nil
}

func configMapData(t *testing.T, objs map[string][]k8sObject, name string) map[string][]byte {
	t.Helper()
	for _, o := range objs["ConfigMap"] {
		if o.Metadata.Name == name {
			var cm struct {
				Data       map[string]string `yaml:"data"`
				BinaryData map[string]string `yaml:"binaryData"`
			}
			o.decode(t, &cm)
			out := map[string][]byte{}
			for k, v := range cm.Data {
				out[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					t.Fatalf("ConfigMap %s, %s: %v", name, k, err)
				}
				out[k] = b
			}
			return out
		}
	}
	t.Fatalf("no ConfigMap %s", name)
	return nil
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustSize parses a Kubernetes or Go memory quantity (768Mi, 900MiB, 1Gi).
func mustSize(t *testing.T, q string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)(Ki|Mi|Gi)B?$`).FindStringSubmatch(q)
	if m == nil {
		t.Fatalf("memory quantity %q", q)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n << map[string]int{"Ki": 10, "Mi": 20, "Gi": 30}[m[2]]
}

// adminServes runs a node and checks that its admin listener answers each
// path (any status but 404: /readyz may say 503 while starting).
func adminServes(t *testing.T, paths []string) {
	t.Helper()
	o := testkit.NewOrigin(t, testkit.OK("shop"))
	file := filepath.Join(t.TempDir(), "awning.yaml")
	writeFile(t, file, []byte(`listen: {http: "127.0.0.1:0", admin: "127.0.0.1:0"}
tls: {mode: "off"}
sites:
  - name: shop
    hosts: [shop.example]
    origin: {urls: ["`+o.URL()+`"]}
`))
	n, err := node.New(node.Options{ConfigPath: file, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-n.Ready():
	case err := <-done:
		t.Fatalf("node: %v", err)
	}
	for _, p := range paths {
		resp, err := http.Get("http://" + n.Addrs().Admin[0] + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("the admin listener does not serve %s", p)
		}
	}
}

// unit is a systemd unit file: key → values, in order, over all sections.
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", path, line)
		}
		u[k] = append(u[k], v)
	}
	return u
}

func (u unit) one(k string) string {
	if len(u[k]) == 0 {
		return ""
	}
	return u[k][len(u[k])-1]
}

// TestSystemdUnit: the unit runs a command that exists, with the hardening
// the docs promise and a stop timeout longer than the drain, and
// `systemd-analyze verify` finds nothing to say about it (run against the
// binary built for the test, since it checks that ExecStart exists).
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join(deployDir, "systemd", "awning@.service")
	u := readUnit(t, path)
	exec0 := strings.Fields(u.one("ExecStart"))
	if len(exec0) == 0 || exec0[0] != "/usr/local/bin/awning" {
		t.Fatalf("ExecStart %q; want /usr/local/bin/awning …", u.one("ExecStart"))
	}
	name, flag := commandLine(t, "ExecStart", exec0[1:])
	if name != "serve" || flag("config") != "/etc/awning/awning.yaml" {
		t.Errorf("ExecStart %q; want serve --config /etc/awning/awning.yaml", u.one("ExecStart"))
	}
	checks := map[string]string{
		"Type":                   "notify",
		"DynamicUser":            "yes",
		"User":                   "awning",
		"StateDirectory":         "awning",
		"ConfigurationDirectory": "awning",
		"AmbientCapabilities":    "CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet":  "CAP_NET_BIND_SERVICE",
		"NoNewPrivileges":        "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"PrivateTmp":             "yes",
		"KillSignal":             "SIGTERM",
	}
	for k, want := range checks {
		if got := u.one(k); got != want {
			t.Errorf("%s=%q; want %q", k, got, want)
		}
	}
	if u.one("ProcSubset") == "pid" {
		t.Error("ProcSubset=pid hides /proc/sys/net/core/somaxconn: Go would listen with a backlog of 128")
	}
	if !strings.Contains(u.one("ExecReload"), "-HUP $MAINPID") {
		t.Errorf("ExecReload=%q; want a SIGHUP to the main process", u.one("ExecReload"))
	}
	stop, err := time.ParseDuration(u.one("TimeoutStopSec"))
	example, cerr := config.Load(filepath.Join(deployDir, "awning.example.yaml"))
	if cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil || stop <= example.Listen.DrainTimeout.D() || stop <= config.DefaultDrainTimeout {
		t.Errorf("TimeoutStopSec=%q; want longer than listen.drain_timeout (%s)", u.one("TimeoutStopSec"), example.Listen.DrainTimeout)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is missing (Debian package systemd); scripts/install-test-deps.sh installs it")
	}
	bin := binary(t)
	b, _ := os.ReadFile(path)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "awning@.service"), bytes.ReplaceAll(b, []byte("/usr/local/bin/awning"), []byte(bin)))
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "awning@test.service")).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("systemd-analyze: %v", err)
	}
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestGrafanaDashboard: the dashboard is JSON Grafana can import, and
// every Awning metric its queries use is one docs/metrics.md documents.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "grafana", "awning.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("awning.json: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard uid %q title %q with %d panels", dash.UID, dash.Title, len(dash.Panels))
	}
	docs, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{"__rate_interval": true}
	for _, v := range dash.Templating.List {
		vars[v.Name] = true
	}
	ids := map[int]bool{}
	metric := regexp.MustCompile(`awning_[a-z_]+`)
	variable := regexp.MustCompile(`\$(\w+)`)
	used := 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		for _, tg := range p.Targets {
			used++
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") ||
				strings.Count(tg.Expr, "[") != strings.Count(tg.Expr, "]") || strings.Count(tg.Expr, `"`)%2 != 0 {
				t.Errorf("panel %q: unbalanced query %s", p.Title, tg.Expr)
			}
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
				if !bytes.Contains(docs, []byte("| `"+base+"` |")) {
					t.Errorf("panel %q uses %s, which docs/metrics.md does not document", p.Title, m)
				}
			}
			for _, v := range variable.FindAllStringSubmatch(tg.Expr, -1) {
				if !vars[v[1]] {
					t.Errorf("panel %q uses $%s, which the dashboard does not define", p.Title, v[1])
				}
			}
		}
	}
	if used < 20 {
		t.Errorf("%d queries; the dashboard lost its panels?", used)
	}
}

// TestRunbookCommands: every awning command line the README and the docs
// tell someone to type (in an incident or on a first try) exists, with the
// flags it uses. Lines in shell blocks are checked whole (as `awning …`,
// `./awning …` or `go run ./cmd/awning …`, continued over lines ending in
// a backslash, without a trailing comment or redirection); commands quoted
// inline, for their command and flags only (they leave out the arguments).
func TestRunbookCommands(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../../README.md", "../../deploy/kubernetes/redis.md", "../../tls/README.md")
	prefixes := []string{"awning ", "./awning ", "go run ./cmd/awning "}
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		inBlock := false
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			trimmed := strings.TrimSpace(lines[i])
			if strings.HasPrefix(trimmed, "```") {
				inBlock = !inBlock
				continue
			}
			where := doc + ":" + strconv.Itoa(i+1)
			if inBlock {
				for _, p := range prefixes {
					rest, ok := strings.CutPrefix(trimmed, p)
					if !ok {
						continue
					}
					for strings.HasSuffix(rest, "\\") && i+1 < len(lines) {
						i++
						rest = strings.TrimSuffix(rest, "\\") + " " + strings.TrimSpace(lines[i])
					}
					words := shellWords(t, where, stripComment(rest))
					for j, w := range words {
						if w == ">" || w == "|" {
							words = words[:j]
							break
						}
					}
					commandLine(t, where, words)
					checked++
				}
				continue
			}
			for _, m := range regexp.MustCompile("`awning ([a-z][^`]*)`").FindAllStringSubmatch(lines[i], -1) {
				if strings.Contains(m[1], "|") || strings.Contains(lines[i], "mistyped") {
					continue // `awning maintenance|update|…`, or a typo shown on purpose
				}
				if _, err := findCommand(shellWords(t, where, m[1])); err != nil {
					t.Errorf("%s: `awning %s`: %v", where, m[1], err)
				}
				checked++
			}
		}
	}
	if checked < 60 {
		t.Errorf("checked %d commands; the docs lost their runbooks?", checked)
	}
}

// stripComment cuts a shell comment (an unquoted # after a space) off s.
func stripComment(s string) string {
	var quote rune
	prev := ' '
	for i, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && (prev == ' ' || prev == '\t'):
			return s[:i]
		}
		prev = r
	}
	return s
}

// shellWords splits a command line as a POSIX shell would for the simple
// quoting docs use: double and single quotes, no escapes.
func shellWords(t *testing.T, where, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("%s: unbalanced quote in %q", where, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
