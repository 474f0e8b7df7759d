package sdktest

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	"github.com/fjord-io/fjord/server/servertest"
)

// TestCustomPluginActive: CreateCustomPlugin of a ZIP and a JAR → ACTIVE, with the size and
// MD5 of the object (computed here independently) and every field Describe documents.
func TestCustomPluginActive(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()

	zipData := zipBytes(t, map[string]string{"mm2/lib/connect-mirror.jar": strings.Repeat("x", 3000), "mm2/doc/README": "hi"})
	jarData := zipBytes(t, map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n", "io/fjord/X.class": "cafebabe"})
	f.env.PutObject(t, pluginBucket, "dir/sub/mm2.zip", zipData)
	f.env.PutObject(t, pluginBucket, "jars/x.jar", jarData)

	for _, tc := range []struct {
		name, key string
		ct        kct.CustomPluginContentType
		data      []byte
	}{
		{"mm2-zip", "dir/sub/mm2.zip", kct.CustomPluginContentTypeZip, zipData},
		{"x-jar", "jars/x.jar", kct.CustomPluginContentTypeJar, jarData},
	} {
		in := pluginInput(tc.name, tc.key, tc.ct)
		in.Description = aws.String("plugin " + tc.name)
		created := must(f.kc.CreateCustomPlugin(ctx, in)).get(t)
		arnPrefix(t, "customPluginArn", aws.ToString(created.CustomPluginArn), "kafkaconnect", servertest.Account, "custom-plugin", tc.name)
		eq(t, "create name", aws.ToString(created.Name), tc.name)
		eq(t, "create revision", created.Revision, int64(1))
		eq(t, "create state", created.CustomPluginState, kct.CustomPluginStateCreating)

		d := waitPlugin(t, f.kc, *created.CustomPluginArn)
		eq(t, "state", d.CustomPluginState, kct.CustomPluginStateActive)
		if d.StateDescription != nil {
			t.Errorf("ACTIVE plugin has stateDescription %+v", *d.StateDescription)
		}
		eq(t, "arn", aws.ToString(d.CustomPluginArn), *created.CustomPluginArn)
		eq(t, "name", aws.ToString(d.Name), tc.name)
		eq(t, "description", aws.ToString(d.Description), "plugin "+tc.name)
		recent(t, "creationTime", d.CreationTime)
		rev := d.LatestRevision
		if rev == nil || rev.Location == nil || rev.Location.S3Location == nil || rev.FileDescription == nil {
			t.Fatalf("latestRevision incomplete: %+v", rev)
		}
		eq(t, "revision", rev.Revision, int64(1))
		eq(t, "contentType", rev.ContentType, tc.ct)
		eq(t, "revision description", aws.ToString(rev.Description), "plugin "+tc.name)
		eq(t, "bucketArn", aws.ToString(rev.Location.S3Location.BucketArn), "arn:aws:s3:::"+pluginBucket)
		eq(t, "fileKey", aws.ToString(rev.Location.S3Location.FileKey), tc.key)
		eq(t, "fileMd5", aws.ToString(rev.FileDescription.FileMd5), md5hex(tc.data))
		eq(t, "fileSize", rev.FileDescription.FileSize, int64(len(tc.data)))
		recent(t, "latestRevision.creationTime", rev.CreationTime)
	}
}

// TestCustomPluginCreateFailed: an object that is not a ZIP, and a missing object, end in
// CREATE_FAILED with a stateDescription; such a plugin cannot back a connector.
func TestCustomPluginCreateFailed(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	f.env.PutObject(t, pluginBucket, "text.zip", []byte("this is not a zip archive\n"))

	for _, tc := range []struct{ name, key string }{
		{"not-a-zip", "text.zip"},
		{"missing", "nowhere/missing.zip"},
	} {
		created := must(f.kc.CreateCustomPlugin(ctx, pluginInput(tc.name, tc.key, kct.CustomPluginContentTypeZip))).get(t)
		d := waitPlugin(t, f.kc, *created.CustomPluginArn)
		eq(t, tc.name+" state", d.CustomPluginState, kct.CustomPluginStateCreateFailed)
		if sd := d.StateDescription; sd == nil || aws.ToString(sd.Code) == "" || aws.ToString(sd.Message) == "" {
			t.Errorf("%s: stateDescription %+v; want a code and a message", tc.name, sd)
		}
		if d.LatestRevision != nil && d.LatestRevision.FileDescription != nil {
			t.Errorf("%s: failed plugin has a fileDescription %+v", tc.name, *d.LatestRevision.FileDescription)
		}

		_, err := f.kc.CreateConnector(ctx, connectorInput("uses-"+tc.name, *created.CustomPluginArn))
		wantErr[*kct.BadRequestException](t, err, 400, *created.CustomPluginArn, "CREATE_FAILED")
	}
	// Nothing was created by the refused calls.
	l := must(f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})).get(t)
	eq(t, "connectors", len(l.Connectors), 0)
}

// TestListCustomPlugins: order by name, namePrefix, and pagination with the SDK's paginator.
func TestListCustomPlugins(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	names := []string{"beta-1", "alpha-2", "alpha-1", "gamma", "alpha-3"}
	arns := map[string]string{}
	f.env.PutObject(t, pluginBucket, "p.zip", zipBytes(t, map[string]string{"a.jar": "a"}))
	for _, n := range names {
		in := pluginInput(n, "p.zip", kct.CustomPluginContentTypeZip)
		in.Description = aws.String("d-" + n)
		arns[n] = *must(f.kc.CreateCustomPlugin(ctx, in)).get(t).CustomPluginArn
	}
	for _, arn := range arns {
		waitPlugin(t, f.kc, arn)
	}
	// Another account's plugins are not listed.
	must(f.otherC.CreateCustomPlugin(ctx, pluginInput("alpha-0", "p.zip", kct.CustomPluginContentTypeZip))).get(t)

	all := must(f.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})).get(t)
	if all.NextToken != nil {
		t.Errorf("a complete list has nextToken %q", *all.NextToken)
	}
	var got []string
	for _, p := range all.CustomPlugins {
		got = append(got, aws.ToString(p.Name))
		n := aws.ToString(p.Name)
		eq(t, n+" arn", aws.ToString(p.CustomPluginArn), arns[n])
		eq(t, n+" state", p.CustomPluginState, kct.CustomPluginStateActive)
		eq(t, n+" description", aws.ToString(p.Description), "d-"+n)
		recent(t, n+" creationTime", p.CreationTime)
		if p.LatestRevision == nil || p.LatestRevision.FileDescription == nil || p.LatestRevision.Revision != 1 ||
			p.LatestRevision.ContentType != kct.CustomPluginContentTypeZip || aws.ToString(p.LatestRevision.Location.S3Location.FileKey) != "p.zip" {
			t.Errorf("%s latestRevision %+v", n, p.LatestRevision)
		}
	}
	eqSlice(t, "all plugins", got, []string{"alpha-1", "alpha-2", "alpha-3", "beta-1", "gamma"})

	pages := listPluginPages(t, f.kc, &kafkaconnect.ListCustomPluginsInput{MaxResults: aws.Int32(2)})
	eqSlice(t, "pages of 2", flatten(pages), []string{"alpha-1", "alpha-2", "alpha-3", "beta-1", "gamma"})
	eq(t, "page count", len(pages), 3)
	eqSlice(t, "last page", pages[2], []string{"gamma"})

	pages = listPluginPages(t, f.kc, &kafkaconnect.ListCustomPluginsInput{MaxResults: aws.Int32(2), NamePrefix: aws.String("alpha-")})
	eq(t, "prefix page count", len(pages), 2)
	eqSlice(t, "prefix pages", flatten(pages), []string{"alpha-1", "alpha-2", "alpha-3"})

	none := must(f.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{NamePrefix: aws.String("delta")})).get(t)
	eq(t, "no match", len(none.CustomPlugins), 0)

	other := must(f.otherC.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})).get(t)
	eq(t, "other account's plugins", len(other.CustomPlugins), 1)
}

func listPluginPages(t *testing.T, c *kafkaconnect.Client, in *kafkaconnect.ListCustomPluginsInput) [][]string {
	t.Helper()
	var pages [][]string
	p := kafkaconnect.NewListCustomPluginsPaginator(c, in)
	for p.HasMorePages() {
		out := must(p.NextPage(t.Context())).get(t)
		var names []string
		for _, x := range out.CustomPlugins {
			names = append(names, aws.ToString(x.Name))
		}
		if len(names) > int(aws.ToInt32(in.MaxResults)) {
			t.Errorf("page of %d > maxResults %d", len(names), aws.ToInt32(in.MaxResults))
		}
		pages = append(pages, names)
	}
	return pages
}

func flatten(pages [][]string) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

// TestDeleteCustomPlugin: Delete answers DELETING, then the plugin is gone everywhere.
func TestDeleteCustomPlugin(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := f.activePlugin(t, "doomed")
	keep := f.activePlugin(t, "kept")

	out := must(f.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(arn)})).get(t)
	eq(t, "arn", aws.ToString(out.CustomPluginArn), arn)
	eq(t, "state", out.CustomPluginState, kct.CustomPluginStateDeleting)

	servertest.Eventually(t, 5*time.Second, "plugin gone", func() bool {
		_, err := f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(arn)})
		return err != nil
	})
	_, err := f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404, arn)
	_, err = f.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404, arn)
	_, err = f.kc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)

	l := must(f.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})).get(t)
	if len(l.CustomPlugins) != 1 || aws.ToString(l.CustomPlugins[0].CustomPluginArn) != keep {
		t.Errorf("plugins after delete: %+v; want only %s", l.CustomPlugins, keep)
	}
	// The name is free again.
	f.activePlugin(t, "doomed")
}

// TestCustomPluginErrors: NotFound for unknown and foreign ARNs, Conflict for a taken name
// (names are per account), BadRequest for malformed input.
func TestCustomPluginErrors(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := f.activePlugin(t, "mine")
	before := must(f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(arn)})).get(t)

	unknown := unknownARN("kafkaconnect", "custom-plugin", "mine")
	_, err := f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)
	_, err = f.kc.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)

	// Another account sees nothing and changes nothing.
	_, err = f.otherC.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.DeleteCustomPlugin(ctx, &kafkaconnect.DeleteCustomPluginInput{CustomPluginArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)
	after := must(f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(arn)})).get(t)
	sameOutput(t, "plugin after foreign calls", before, after)

	// Malformed ARNs and ARNs of another resource type are client mistakes.
	for _, bad := range []string{"not-an-arn", unknownARN("kafkaconnect", "connector", "mine")} {
		_, err = f.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(bad)})
		wantErr[*kct.BadRequestException](t, err, 400, "customPluginArn")
	}

	// Names are unique per account.
	_, err = f.kc.CreateCustomPlugin(ctx, pluginInput("mine", "other.zip", kct.CustomPluginContentTypeZip))
	wantErr[*kct.ConflictException](t, err, 409, "mine")
	f.activePluginOf(t, f.otherC, "mine")
	l := must(f.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})).get(t)
	eq(t, "plugins of account 0", len(l.CustomPlugins), 1)

	// Input rules.
	in := pluginInput("bad-bucket", "x.zip", kct.CustomPluginContentTypeZip)
	in.Location.S3Location.BucketArn = aws.String("my-bucket")
	_, err = f.kc.CreateCustomPlugin(ctx, in)
	wantErr[*kct.BadRequestException](t, err, 400, "bucketArn")
	in = pluginInput("bad-tags", "x.zip", kct.CustomPluginContentTypeZip)
	in.Tags = map[string]string{"aws:owner": "me"}
	_, err = f.kc.CreateCustomPlugin(ctx, in)
	wantErr[*kct.BadRequestException](t, err, 400, "aws:")
	in = pluginInput("too-many-tags", "x.zip", kct.CustomPluginContentTypeZip)
	in.Tags = manyTags("k", 51)
	_, err = f.kc.CreateCustomPlugin(ctx, in)
	wantErr[*kct.BadRequestException](t, err, 400, "tags")
	l = must(f.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})).get(t)
	eq(t, "plugins after refused creates", len(l.CustomPlugins), 1)
}
