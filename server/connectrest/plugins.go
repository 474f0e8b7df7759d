package connectrest

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

type pluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version"`
}

// undefinedVersion is Connect's version of a plugin that declares none.
const undefinedVersion = "undefined"

// plugins lists the classes of the runtime registry (workers/catalog), then the connector
// classes of the account's ACTIVE custom plugins' class indexes that the registry does not
// run; with connectorsOnly=false also the converters and transforms the workers apply.
func (a *API) plugins(r *request) (int, any, error) {
	connectorsOnly, err := boolParam(r, "connectorsOnly")
	if err != nil {
		return 0, nil, err
	}
	if r.URL.Query().Get("connectorsOnly") == "" {
		connectorsOnly = true
	}
	out := []pluginInfo{}
	seen := map[string]bool{}
	indexed, err := a.indexedClasses(r)
	if err != nil {
		return 0, nil, err
	}
	// Classes that ship with Kafka are always installed; the others (Debezium's) once one of
	// the account's ACTIVE plugins holds them, as on a Connect worker with that plugin.
	for _, c := range catalog.Classes() {
		if _, found := slices.BinarySearch(indexed, c.Name); c.BuiltIn || found {
			out = append(out, pluginInfo{Class: c.Name, Type: string(c.Kind), Version: c.Version})
			seen[c.Name] = true
		}
	}
	var extra []pluginInfo
	for _, c := range indexed {
		simple := c[strings.LastIndexAny(c, ".$")+1:]
		if seen[c] || strings.Contains(c, "$") {
			continue
		}
		switch {
		case strings.HasSuffix(simple, "SinkConnector"):
			extra = append(extra, pluginInfo{Class: c, Type: string(catalog.KindSink), Version: undefinedVersion})
		case strings.HasSuffix(simple, "Connector"):
			extra = append(extra, pluginInfo{Class: c, Type: string(catalog.KindSource), Version: undefinedVersion})
		default:
			continue
		}
		seen[c] = true
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Class < extra[j].Class })
	out = append(out, extra...)
	if !connectorsOnly {
		for _, c := range catalog.Converters {
			if c != catalog.SimpleHeaderConverter {
				out = append(out, pluginInfo{Class: c, Type: "converter", Version: catalogVersion()})
			}
		}
		for _, c := range catalog.Converters {
			out = append(out, pluginInfo{Class: c, Type: "header_converter", Version: catalogVersion()})
		}
		for _, c := range catalog.Transforms {
			out = append(out, pluginInfo{Class: c, Type: "transformation", Version: catalogVersion()})
		}
	}
	return http.StatusOK, out, nil
}

// catalogVersion is the Apache Kafka version of the built-in classes.
func catalogVersion() string {
	for _, c := range catalog.Classes() {
		if c.BuiltIn {
			return c.Version
		}
	}
	return undefinedVersion
}

// indexedClasses are the classes of the latest revisions of the account's ACTIVE plugins
// (store.PluginClassesOf; a plugin not indexed yet holds none), sorted.
func (a *API) indexedClasses(r *request) ([]string, error) {
	plugins, err := a.st.CustomPlugins.List(r.ctx, store.ListParams{AccountID: r.caller.AccountID, Region: r.caller.Region,
		States: []string{"ACTIVE"}, Limit: 1000})
	if err != nil {
		return nil, storeError(err)
	}
	var out []string
	for _, p := range plugins {
		rev, err := a.st.CustomPlugins.LatestRevision(r.ctx, p.ARN)
		if err != nil {
			continue
		}
		pc, err := a.st.PluginClassesOf(r.ctx, p.ARN, rev.Revision)
		if err != nil {
			continue
		}
		out = append(out, pc.Classes...)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// configKeyInfo is Connect's ConfigKeyInfo.
type configKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         string   `json:"group"`
	OrderInGroup  int      `json:"order"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

type configValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

type configInfo struct {
	Definition configKeyInfo   `json:"definition"`
	Value      configValueInfo `json:"value"`
}

type configInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []configInfo `json:"configs"`
}

// definitions are a class's keys as Connect's ConfigKeyInfo: the common keys, then the class's.
func definitions(c *catalog.Class) []configKeyInfo {
	var out []configKeyInfo
	order := map[string]int{}
	seen := map[string]bool{}
	for _, k := range append(slices.Clone(catalog.CommonKeys), c.Keys...) {
		// Prefixes (x.*) and the registry's lines that document several keys at once are no
		// single key's definition; a key documented twice is defined once.
		if strings.HasSuffix(k.Name, ".*") || strings.ContainsAny(k.Name, " ,") || seen[k.Name] {
			continue
		}
		seen[k.Name] = true
		importance := "MEDIUM"
		if k.Required {
			importance = "HIGH"
		}
		order[k.Group]++
		info := configKeyInfo{Name: k.Name, Type: string(k.Type), Required: k.Required, Importance: importance,
			Documentation: k.Doc, Group: k.Group, OrderInGroup: order[k.Group], Width: "NONE", DisplayName: k.Name, Dependents: []string{}}
		if k.Password {
			info.Type = string(catalog.TypePassword)
		}
		if !k.Required && k.Default != "" {
			info.DefaultValue = &k.Default
		}
		out = append(out, info)
	}
	return out
}

func (a *API) pluginClass(name string) (*catalog.Class, error) {
	c, ok := catalog.Lookup(name)
	if !ok {
		return nil, connectError(http.StatusNotFound, "Unknown plugin %s: Fjord runs %s", name, strings.Join(catalog.Names(), ", "))
	}
	return c, nil
}

func (a *API) pluginConfig(r *request) (int, any, error) {
	c, err := a.pluginClass(r.PathValue("class"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, definitions(c), nil
}

// validate is Connect's validation of a configuration for a class: the registry's validation
// (catalog.Validate, the one CreateConnector and the workers apply) in Connect's ConfigInfos.
func (a *API) validate(r *request) (int, any, error) {
	c, err := a.pluginClass(r.PathValue("class"))
	if err != nil {
		return 0, nil, connectError(http.StatusBadRequest, "%s", err.Error())
	}
	var conf map[string]string
	if err := decode(r, &conf); err != nil {
		return 0, nil, err
	}
	if conf == nil {
		conf = map[string]string{}
	}
	if given := strings.TrimSpace(conf["connector.class"]); given == "" {
		conf["connector.class"] = c.Name
	} else if gc, ok := catalog.Lookup(given); !ok || gc != c {
		return 0, nil, connectError(http.StatusBadRequest, "Included connector type %s does not match request type %s", given, r.PathValue("class"))
	}
	_, errs := catalog.Validate(workload.WithRuntimeDefaults(conf, a.bootstrapOf(conf)))
	byKey := map[string][]string{}
	for _, e := range errs {
		byKey[e.Key] = append(byKey[e.Key], e.Message)
	}
	out := configInfos{Name: c.Name, Groups: []string{}, Configs: []configInfo{}}
	defined := map[string]bool{}
	addGroup := func(g string) {
		if !slices.Contains(out.Groups, g) {
			out.Groups = append(out.Groups, g)
		}
	}
	for _, d := range definitions(c) {
		defined[d.Name] = true
		addGroup(d.Group)
		out.Configs = append(out.Configs, configInfo{Definition: d, Value: valueInfo(d.Name, conf, byKey[d.Name], d.Type == string(catalog.TypePassword))})
	}
	// Problems of keys outside the definition (a transform's own keys …) get entries too.
	var rest []string
	for k := range byKey {
		if !defined[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		d := configKeyInfo{Name: k, Type: string(catalog.TypeString), Importance: "MEDIUM", Group: "Common", Width: "NONE", DisplayName: k, Dependents: []string{}}
		if strings.HasPrefix(k, "transforms.") {
			d.Group = "Transforms"
		}
		addGroup(d.Group)
		out.Configs = append(out.Configs, configInfo{Definition: d, Value: valueInfo(k, conf, byKey[k], false)})
	}
	for _, ci := range out.Configs {
		out.ErrorCount += len(ci.Value.Errors)
	}
	return http.StatusOK, out, nil
}

func valueInfo(key string, conf map[string]string, errs []string, password bool) configValueInfo {
	v := configValueInfo{Name: key, RecommendedValues: []string{}, Errors: errs, Visible: true}
	if v.Errors == nil {
		v.Errors = []string{}
	}
	if val, ok := conf[key]; ok {
		if password && !catalog.HasReference(val) {
			val = hidden
		}
		v.Value = &val
	}
	return v
}
