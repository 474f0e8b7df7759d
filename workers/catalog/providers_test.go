package catalog

import (
	"reflect"
	"strings"
	"testing"
)

func TestReferences(t *testing.T) {
	t.Parallel()
	cases := []struct {
		value string
		want  []Reference
	}{
		{"plain", nil},
		{"$ {a:b}", nil},
		{"${nocolon}", nil},
		{"${env:HOME}", []Reference{{Text: "${env:HOME}", Provider: "env", Key: "HOME"}}},
		{"${file:/etc/x.properties:pass}", []Reference{{Text: "${file:/etc/x.properties:pass}", Provider: "file", Path: "/etc/x.properties", Key: "pass"}}},
		// Kafka's pattern: the path ends at the second ':', the key takes the rest.
		{"${sm:a:b:c}", []Reference{{Text: "${sm:a:b:c}", Provider: "sm", Path: "a", Key: "b:c"}}},
		{"${sm::k}", []Reference{{Text: "${sm::k}", Provider: "sm", Path: "", Key: "k"}}},
		// Two references, the first without a path: two, not one spanning the '}' (Kafka's quirk).
		{"u=${env:USER} p=${env:PASS};", []Reference{
			{Text: "${env:USER}", Provider: "env", Key: "USER"}, {Text: "${env:PASS}", Provider: "env", Key: "PASS"}}},
		{`ScramLoginModule required username="${sm:s:username}" password="${sm:s:password}";`, []Reference{
			{Text: "${sm:s:username}", Provider: "sm", Path: "s", Key: "username"},
			{Text: "${sm:s:password}", Provider: "sm", Path: "s", Key: "password"}}},
	}
	for _, c := range cases {
		got := References(c.value)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("References(%q) = %+v, want %+v", c.value, got, c.want)
		}
		if HasReference(c.value) != (len(c.want) > 0) {
			t.Errorf("HasReference(%q) = %v", c.value, !(len(c.want) > 0))
		}
	}
}

func TestTransform(t *testing.T) {
	t.Parallel()
	vals := map[string]string{"${a:x}": "1", "${b:p:k}": "${a:x}"}
	lookup := func(r Reference) (string, bool) { v, ok := vals[r.Text]; return v, ok }
	for in, want := range map[string]string{
		"none":                   "none",
		"${a:x}":                 "1",
		"<${a:x}|${a:x}>":        "<1|1>",
		"${b:p:k}":               "${a:x}", // replacements are not scanned again
		"keep ${c:y} and ${a:x}": "keep ${c:y} and 1",
	} {
		if got := Transform(in, lookup); got != want {
			t.Errorf("Transform(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecretsManagerRef(t *testing.T) {
	t.Parallel()
	msk := Provider{Name: "sm", Class: ProviderSecretsManager, Params: map[string]string{"region": "eu-west-1"}}
	jc := Provider{Name: "sm", Class: SecretsManagerProviderClasses[1], Params: map[string]string{"aws.region": "us-west-2", "secret.prefix": "prod/"}}
	arn := "arn:aws:secretsmanager:ap-south-1:123456789012:secret:db-AbCdEf"
	cases := []struct {
		p    Provider
		ref  string
		want SecretRef
	}{
		{msk, "${sm:AmazonMSK_x:password}", SecretRef{SecretID: "AmazonMSK_x", Region: "eu-west-1", JSONKey: "password"}},
		{msk, "${sm:AmazonMSK_x}", SecretRef{SecretID: "AmazonMSK_x", Region: "eu-west-1"}},
		{msk, "${sm:AmazonMSK_x:password?ttl=300000}", SecretRef{SecretID: "AmazonMSK_x", Region: "eu-west-1", JSONKey: "password"}},
		{msk, "${sm:" + strings.ReplaceAll(arn, ":", "%3A") + ":password}", SecretRef{SecretID: arn, Region: "ap-south-1", JSONKey: "password"}},
		{msk, "${sm:" + arn + ":password}", SecretRef{SecretID: arn, Region: "ap-south-1", JSONKey: "password"}},
		{msk, "${sm:" + arn + "}", SecretRef{SecretID: arn, Region: "ap-south-1"}},
		{jc, "${sm:db:user}", SecretRef{SecretID: "prod/db", Region: "us-west-2", JSONKey: "user"}},
	}
	for _, c := range cases {
		got, err := SecretsManagerRef(c.p, References(c.ref)[0])
		if err != nil || got != c.want {
			t.Errorf("SecretsManagerRef(%s) = %+v, %v; want %+v", c.ref, got, err, c.want)
		}
	}
	for _, bad := range []string{"${sm:arn:aws:s3:::bucket}", "${sm:arn:aws:secretsmanager:r:1:secret:a:b:c}", "${sm::}"} {
		if _, err := SecretsManagerRef(msk, References(bad)[0]); err == nil {
			t.Errorf("SecretsManagerRef(%s): no error", bad)
		}
	}
}

func TestCheckReferences(t *testing.T) {
	t.Parallel()
	worker := map[string]string{
		"config.providers":                             "secretsmanager, file,env,dir,vault,nameless",
		"config.providers.secretsmanager.class":        ProviderSecretsManager,
		"config.providers.file.class":                  ProviderFile,
		"config.providers.env.class":                   ProviderEnv,
		"config.providers.dir.class":                   ProviderDirectory,
		"config.providers.vault.class":                 "io.lenses.connect.secrets.providers.VaultSecretProvider",
		"config.providers.secretsmanager.param.region": "eu-west-1",
	}
	if ps := ParseProviders(worker); len(ps) != 6 || ps["secretsmanager"].Params["region"] != "eu-west-1" || ps["nameless"].Class != "" ||
		ps["secretsmanager"].Resolver() != "server" || ps["file"].Resolver() != "worker" || ps["vault"].Resolver() != "" {
		t.Fatalf("ParseProviders: %+v", ps)
	}
	good := map[string]string{
		"a": "${secretsmanager:s:password}", "b": "${secretsmanager:s}", "c": "${file:/x.properties:k}",
		"d": "${env:HOME}", "e": "${dir:/run/secrets:pass}", "f": "no reference",
	}
	if p := CheckReferences(good, worker); len(p) != 0 {
		t.Fatalf("good references refused: %v", p)
	}
	bad := map[string]string{
		"k1": "${nope:x:y}", "k2": "${vault:p:k}", "k3": "${nameless:k}", "k4": "${file:k}",
		"k5": "${env:/p:HOME}", "k6": "${dir:name}", "k7": "${secretsmanager:arn:aws:s3:::b}",
	}
	problems := CheckReferences(bad, worker)
	if len(problems) != len(bad) {
		t.Fatalf("want %d problems, got %v", len(bad), problems)
	}
	for i, p := range problems {
		if want := "k" + string(rune('1'+i)); p.Key != want || !strings.Contains(p.Error(), bad[want]) {
			t.Errorf("problem %d: %v (want key %s naming its reference)", i, p, want)
		}
	}
	if !strings.Contains(problems[0].Message, `"nope"`) || !strings.Contains(problems[1].Message, "does not implement") {
		t.Errorf("messages: %v", problems)
	}
	if p := CheckReferences(map[string]string{"k": "${env:X}"}, nil); len(p) != 1 || !strings.Contains(p[0].Message, "declares no config providers") {
		t.Errorf("no worker configuration: %v", p)
	}
}
