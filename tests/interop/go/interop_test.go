// The official Couchbase Go SDK (gocb v2, pinned in go.mod) against divan-server: what a user of
// the SDK sees. TestMain starts a divan-server of its own on free ports, every test talks to it,
// and the server must stop cleanly (exit 0 on SIGTERM) at the end. DIVAN_SERVER names the binary
// (default: <repo>/build/bin/divan-server). Run: `go test ./...` in this folder.
package interop

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/couchbase/gocb/v2"
)

const (
	adminUser = "Administrator"
	adminPass = "password"
)

// Small timeouts: a hang fails in seconds, not minutes.
var timeouts = gocb.TimeoutsConfig{
	ConnectTimeout:    5 * time.Second,
	KVTimeout:         2500 * time.Millisecond,
	KVDurableTimeout:  5 * time.Second,
	ManagementTimeout: 5 * time.Second,
}

var (
	kvPort, httpPort int
	cluster          *gocb.Cluster
	bucket           *gocb.Bucket
	coll             *gocb.Collection
)

// --- divan-server on free ports ------------------------------------------------------------

func serverBinary() string {
	if p := os.Getenv("DIVAN_SERVER"); p != "" {
		return p
	}
	p, _ := filepath.Abs("../../../build/bin/divan-server")
	return p
}

// startServer runs divan-server and returns once it printed `divan-server kv=<p> http=<p>`.
func startServer() (*exec.Cmd, error) {
	// A data directory of its own: the suite writes with the persisting durability levels.
	dataDir, err := os.MkdirTemp("", "divan-interop-go-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(serverBinary(), "--kv-port", "0", "--http-port", "0", "--query-port", "0", "--threads", "2",
		"--data-dir", dataDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", serverBinary(), err)
	}
	ports := make(chan [2]int, 1)
	go func() {
		re := regexp.MustCompile(`^divan-server kv=(\d+) http=(\d+)`)
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				var kv, h int
				fmt.Sscan(m[1], &kv)
				fmt.Sscan(m[2], &h)
				ports <- [2]int{kv, h}
				sent = true
			}
		}
		io.Copy(io.Discard, out) // drain for the server's lifetime
	}()
	select {
	case p := <-ports:
		kvPort, httpPort = p[0], p[1]
		return cmd, nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("divan-server printed no ports line within 10 s")
	}
}

// stopServer sends SIGTERM; the server must exit 0 within 10 s.
func stopServer(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("divan-server died during the tests: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("divan-server did not exit cleanly: %w", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return errors.New("divan-server did not stop within 10 s of SIGTERM")
	}
}

func connStr() string { return fmt.Sprintf("couchbase://127.0.0.1:%d", kvPort) }

func connect(user, pass string) (*gocb.Cluster, error) {
	return gocb.Connect(connStr(), gocb.ClusterOptions{
		Authenticator:  gocb.PasswordAuthenticator{Username: user, Password: pass},
		TimeoutsConfig: timeouts,
	})
}

func TestMain(m *testing.M) {
	cmd, err := startServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := func() int {
		var err error
		if cluster, err = connect(adminUser, adminPass); err != nil {
			fmt.Fprintln(os.Stderr, "connect:", err)
			return 2
		}
		defer cluster.Close(nil)
		bucket = cluster.Bucket("default")
		if err := bucket.WaitUntilReady(10*time.Second, nil); err != nil {
			fmt.Fprintln(os.Stderr, "bucket not ready:", err)
			return 2
		}
		coll = bucket.DefaultCollection()
		return m.Run()
	}()
	if err := stopServer(cmd); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// key gives each test its own document ids.
func key(t *testing.T, suffix string) string {
	return strings.ReplaceAll(t.Name(), "/", "-") + "-" + suffix
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// --- key-value -------------------------------------------------------------------------------

type doc struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

func TestUpsertGet(t *testing.T) {
	k := key(t, "a")
	res, err := coll.Upsert(k, doc{"ada", 1}, nil)
	must(t, err)
	if res.Cas() == 0 {
		t.Fatal("upsert returned CAS 0")
	}
	if res.MutationToken() == nil {
		t.Fatal("no mutation token")
	}
	got, err := coll.Get(k, nil)
	must(t, err)
	var d doc
	must(t, got.Content(&d))
	if d != (doc{"ada", 1}) || got.Cas() != res.Cas() {
		t.Fatalf("got %+v cas %d, want ada/1 cas %d", d, got.Cas(), res.Cas())
	}
}

func TestInsertExisting(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Insert(k, doc{"x", 1}, nil)
	must(t, err)
	_, err = coll.Insert(k, doc{"x", 2}, nil)
	wantErr(t, err, gocb.ErrDocumentExists)
}

func TestGetMissing(t *testing.T) {
	_, err := coll.Get(key(t, "nope"), nil)
	wantErr(t, err, gocb.ErrDocumentNotFound)
}

func TestReplaceWithCas(t *testing.T) {
	k := key(t, "a")
	res, err := coll.Upsert(k, doc{"x", 1}, nil)
	must(t, err)
	_, err = coll.Replace(k, doc{"x", 2}, &gocb.ReplaceOptions{Cas: res.Cas() + 1})
	wantErr(t, err, gocb.ErrCasMismatch)
	_, err = coll.Replace(k, doc{"x", 3}, &gocb.ReplaceOptions{Cas: res.Cas()})
	must(t, err)
	_, err = coll.Replace(key(t, "missing"), doc{"x", 1}, nil)
	wantErr(t, err, gocb.ErrDocumentNotFound)
}

func TestRemove(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, doc{"x", 1}, nil)
	must(t, err)
	_, err = coll.Remove(k, nil)
	must(t, err)
	_, err = coll.Get(k, nil)
	wantErr(t, err, gocb.ErrDocumentNotFound)
	_, err = coll.Remove(k, nil)
	wantErr(t, err, gocb.ErrDocumentNotFound)
}

func TestExpiryAndTouch(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, doc{"x", 1}, &gocb.UpsertOptions{Expiry: time.Hour})
	must(t, err)
	res, err := coll.Get(k, &gocb.GetOptions{WithExpiry: true})
	must(t, err)
	exp := res.ExpiryTime()
	if exp.IsZero() || exp.Before(time.Now().Add(50*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("expiry %v, want about an hour from now", exp)
	}
	_, err = coll.Touch(k, 2*time.Hour, nil)
	must(t, err)
	_, err = coll.GetAndTouch(k, 3*time.Hour, nil)
	must(t, err)
	res, err = coll.Get(k, &gocb.GetOptions{WithExpiry: true})
	must(t, err)
	if exp := res.ExpiryTime(); exp.IsZero() || exp.Before(time.Now().Add(170*time.Minute)) {
		t.Fatalf("after getAndTouch: expiry %v, want about 3 h from now", exp)
	}
}

func TestGetAndLock(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, doc{"x", 1}, nil)
	must(t, err)
	locked, err := coll.GetAndLock(k, 10*time.Second, nil)
	must(t, err)
	_, err = coll.Upsert(k, doc{"x", 2}, &gocb.UpsertOptions{Timeout: 300 * time.Millisecond,
		RetryStrategy: gocb.NewBestEffortRetryStrategy(nil)})
	if err == nil {
		t.Fatal("a write to a locked document succeeded")
	}
	must(t, coll.Unlock(k, locked.Cas(), nil))
	_, err = coll.Upsert(k, doc{"x", 3}, nil)
	must(t, err)
}

func TestCounters(t *testing.T) {
	k := key(t, "ctr")
	res, err := coll.Binary().Increment(k, &gocb.IncrementOptions{Initial: 10, Delta: 5})
	must(t, err)
	if res.Content() != 10 {
		t.Fatalf("created at %d, want 10", res.Content())
	}
	res, err = coll.Binary().Increment(k, &gocb.IncrementOptions{Delta: 5})
	must(t, err)
	if res.Content() != 15 {
		t.Fatalf("incremented to %d, want 15", res.Content())
	}
	res, err = coll.Binary().Decrement(k, &gocb.DecrementOptions{Delta: 3})
	must(t, err)
	if res.Content() != 12 {
		t.Fatalf("decremented to %d, want 12", res.Content())
	}
	_, err = coll.Binary().Increment(key(t, "none"), &gocb.IncrementOptions{Delta: 1, Initial: -1})
	wantErr(t, err, gocb.ErrDocumentNotFound)
}

func TestAppendPrepend(t *testing.T) {
	k := key(t, "bin")
	_, err := coll.Upsert(k, []byte("mid"), &gocb.UpsertOptions{Transcoder: gocb.NewRawBinaryTranscoder()})
	must(t, err)
	_, err = coll.Binary().Append(k, []byte("-end"), nil)
	must(t, err)
	_, err = coll.Binary().Prepend(k, []byte("start-"), nil)
	must(t, err)
	res, err := coll.Get(k, &gocb.GetOptions{Transcoder: gocb.NewRawBinaryTranscoder()})
	must(t, err)
	var b []byte
	must(t, res.Content(&b))
	if string(b) != "start-mid-end" {
		t.Fatalf("content %q", b)
	}
}

func TestExists(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, doc{"x", 1}, nil)
	must(t, err)
	res, err := coll.Exists(k, nil)
	must(t, err)
	if !res.Exists() {
		t.Fatal("an existing document does not exist")
	}
	res, err = coll.Exists(key(t, "nope"), nil)
	must(t, err)
	if res.Exists() {
		t.Fatal("a missing document exists")
	}
}

// --- sub-document ----------------------------------------------------------------------------

func TestLookupIn(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, map[string]interface{}{"name": "ada", "tags": []string{"a", "b", "c"}}, nil)
	must(t, err)
	res, err := coll.LookupIn(k, []gocb.LookupInSpec{
		gocb.GetSpec("name", nil),
		gocb.ExistsSpec("tags", nil),
		gocb.CountSpec("tags", nil),
		gocb.GetSpec("missing", nil),
	}, nil)
	must(t, err)
	var name string
	must(t, res.ContentAt(0, &name))
	var n int
	must(t, res.ContentAt(2, &n))
	if name != "ada" || !res.Exists(1) || n != 3 || res.Exists(3) {
		t.Fatalf("name %q exists %v count %d missing-exists %v", name, res.Exists(1), n, res.Exists(3))
	}
	if err := res.ContentAt(3, &name); !errors.Is(err, gocb.ErrPathNotFound) {
		t.Fatalf("missing path: %v", err)
	}
}

func TestMutateIn(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, map[string]interface{}{"n": 1, "list": []int{1}}, nil)
	must(t, err)
	_, err = coll.MutateIn(k, []gocb.MutateInSpec{
		gocb.UpsertSpec("name", "ada", nil),
		gocb.IncrementSpec("n", 4, nil),
		gocb.ArrayAppendSpec("list", 2, nil),
		gocb.UpsertSpec("meta.by", "go", &gocb.UpsertSpecOptions{IsXattr: true, CreatePath: true}),
	}, nil)
	must(t, err)
	res, err := coll.LookupIn(k, []gocb.LookupInSpec{
		gocb.GetSpec("n", nil),
		gocb.GetSpec("meta.by", &gocb.GetSpecOptions{IsXattr: true}),
		gocb.CountSpec("list", nil),
	}, nil)
	must(t, err)
	var n, cnt int
	var by string
	must(t, res.ContentAt(0, &n))
	must(t, res.ContentAt(1, &by))
	must(t, res.ContentAt(2, &cnt))
	if n != 5 || by != "go" || cnt != 2 {
		t.Fatalf("n %d by %q count %d", n, by, cnt)
	}
	_, err = coll.MutateIn(k, []gocb.MutateInSpec{gocb.ReplaceSpec("no.such", 1, nil)}, nil)
	wantErr(t, err, gocb.ErrPathNotFound)
	_, err = coll.MutateIn(key(t, "new"), []gocb.MutateInSpec{gocb.UpsertSpec("a", 1, nil)},
		&gocb.MutateInOptions{StoreSemantic: gocb.StoreSemanticsUpsert})
	must(t, err)
}

// --- durability ------------------------------------------------------------------------------

func TestDurabilityMajority(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, doc{"x", 1}, &gocb.UpsertOptions{DurabilityLevel: gocb.DurabilityLevelMajority})
	must(t, err)
	_, err = coll.Upsert(k, doc{"x", 2}, &gocb.UpsertOptions{DurabilityLevel: gocb.DurabilityLevelPersistToMajority})
	must(t, err)
	_, err = coll.Remove(k, &gocb.RemoveOptions{DurabilityLevel: gocb.DurabilityLevelMajority})
	must(t, err)
}

// Client-side durability: the SDK observes the write (PersistTo / ReplicateTo).
func TestDurabilityObserved(t *testing.T) {
	k := key(t, "a")
	_, err := coll.Upsert(k, doc{"x", 1}, &gocb.UpsertOptions{PersistTo: 1})
	must(t, err)
	_, err = coll.Remove(k, &gocb.RemoveOptions{PersistTo: 1})
	must(t, err)
	// No replicas: replicating to one is impossible.
	_, err = coll.Upsert(k, doc{"x", 2}, &gocb.UpsertOptions{ReplicateTo: 1})
	if err == nil {
		t.Fatal("ReplicateTo 1 on a bucket without replicas succeeded")
	}
}

// --- bulk ------------------------------------------------------------------------------------

func TestBulk(t *testing.T) {
	const n = 200
	ups := make([]gocb.BulkOp, n)
	for i := range ups {
		ups[i] = &gocb.UpsertOp{ID: key(t, fmt.Sprint(i)), Value: doc{"bulk", i}}
	}
	must(t, coll.Do(ups, nil))
	gets := make([]gocb.BulkOp, n+1)
	for i := 0; i < n; i++ {
		gets[i] = &gocb.GetOp{ID: key(t, fmt.Sprint(i))}
	}
	gets[n] = &gocb.GetOp{ID: key(t, "missing")}
	must(t, coll.Do(gets, nil))
	for i, op := range gets[:n] {
		g := op.(*gocb.GetOp)
		if g.Err != nil {
			t.Fatalf("get %d: %v", i, g.Err)
		}
		var d doc
		must(t, g.Result.Content(&d))
		if d.N != i {
			t.Fatalf("get %d: %+v", i, d)
		}
	}
	wantErr(t, gets[n].(*gocb.GetOp).Err, gocb.ErrDocumentNotFound)

	// Many goroutines at once over the SDK's connections.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := coll.Upsert(key(t, fmt.Sprintf("g%d-%d", g, i)), doc{"g", i}, nil); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// --- management ------------------------------------------------------------------------------

func TestScopesAndCollections(t *testing.T) {
	mgr := bucket.CollectionsV2()
	must(t, mgr.CreateScope("goapp", nil))
	wantErr(t, mgr.CreateScope("goapp", nil), gocb.ErrScopeExists)
	must(t, mgr.CreateCollection("goapp", "users", nil, nil))
	wantErr(t, mgr.CreateCollection("goapp", "users", nil, nil), gocb.ErrCollectionExists)
	wantErr(t, mgr.CreateCollection("nosuch", "users", nil, nil), gocb.ErrScopeNotFound)
	scopes, err := mgr.GetAllScopes(nil)
	must(t, err)
	found := false
	for _, s := range scopes {
		if s.Name == "goapp" {
			for _, c := range s.Collections {
				found = found || c.Name == "users"
			}
		}
	}
	if !found {
		t.Fatalf("goapp.users not listed: %+v", scopes)
	}
	users := bucket.Scope("goapp").Collection("users")
	_, err = users.Upsert("u1", doc{"ada", 1}, nil)
	must(t, err)
	res, err := users.Get("u1", nil)
	must(t, err)
	var d doc
	must(t, res.Content(&d))
	if d.Name != "ada" {
		t.Fatalf("%+v", d)
	}
	must(t, mgr.DropCollection("goapp", "users", nil))
	wantErr(t, mgr.DropCollection("goapp", "users", nil), gocb.ErrCollectionNotFound)
	must(t, mgr.DropScope("goapp", nil))
	wantErr(t, mgr.DropScope("goapp", nil), gocb.ErrScopeNotFound)
}

func TestBuckets(t *testing.T) {
	bm := cluster.Buckets()
	must(t, bm.CreateBucket(gocb.CreateBucketSettings{BucketSettings: gocb.BucketSettings{
		Name: "gob", RAMQuotaMB: 128, BucketType: gocb.CouchbaseBucketType, FlushEnabled: true,
	}}, nil))
	err := bm.CreateBucket(gocb.CreateBucketSettings{BucketSettings: gocb.BucketSettings{
		Name: "gob", RAMQuotaMB: 128, BucketType: gocb.CouchbaseBucketType,
	}}, nil)
	wantErr(t, err, gocb.ErrBucketExists)
	s, err := bm.GetBucket("gob", nil)
	must(t, err)
	if s.RAMQuotaMB != 128 || !s.FlushEnabled || s.BucketType != gocb.CouchbaseBucketType {
		t.Fatalf("settings %+v", s)
	}
	s.RAMQuotaMB = 256
	s.MaxExpiry = time.Hour
	must(t, bm.UpdateBucket(*s, nil))
	s, err = bm.GetBucket("gob", nil)
	must(t, err)
	if s.RAMQuotaMB != 256 || s.MaxExpiry != time.Hour {
		t.Fatalf("updated settings %+v", s)
	}
	all, err := bm.GetAllBuckets(nil)
	must(t, err)
	if _, ok := all["gob"]; !ok {
		t.Fatalf("gob not listed: %v", all)
	}
	b := cluster.Bucket("gob")
	must(t, b.WaitUntilReady(10*time.Second, nil))
	_, err = b.DefaultCollection().Upsert("k", doc{"x", 1}, nil)
	must(t, err)
	must(t, bm.FlushBucket("gob", nil))
	_, err = b.DefaultCollection().Get("k", nil)
	wantErr(t, err, gocb.ErrDocumentNotFound)
	must(t, bm.DropBucket("gob", nil))
	wantErr(t, bm.DropBucket("gob", nil), gocb.ErrBucketNotFound)
	_, err = bm.GetBucket("gob", nil)
	wantErr(t, err, gocb.ErrBucketNotFound)
}

func TestEphemeralBucket(t *testing.T) {
	bm := cluster.Buckets()
	must(t, bm.CreateBucket(gocb.CreateBucketSettings{BucketSettings: gocb.BucketSettings{
		Name: "goeph", RAMQuotaMB: 100, BucketType: gocb.EphemeralBucketType,
	}}, nil))
	s, err := bm.GetBucket("goeph", nil)
	must(t, err)
	if s.BucketType != gocb.EphemeralBucketType || s.EvictionPolicy != gocb.EvictionPolicyTypeNoEviction {
		t.Fatalf("settings %+v", s)
	}
	must(t, bm.DropBucket("goeph", nil))
}

// --- ping, diagnostics, readiness ------------------------------------------------------------

func TestPing(t *testing.T) {
	res, err := bucket.Ping(&gocb.PingOptions{
		ServiceTypes: []gocb.ServiceType{gocb.ServiceTypeKeyValue, gocb.ServiceTypeManagement},
	})
	must(t, err)
	for _, svc := range []gocb.ServiceType{gocb.ServiceTypeKeyValue, gocb.ServiceTypeManagement} {
		eps := res.Services[svc]
		if len(eps) == 0 {
			t.Fatalf("no %v endpoints in %+v", svc, res.Services)
		}
		for _, ep := range eps {
			if ep.State != gocb.PingStateOk {
				t.Fatalf("%v endpoint %s: state %v error %q", svc, ep.Remote, ep.State, ep.Error)
			}
		}
	}
	if _, err := res.MarshalJSON(); err != nil {
		t.Fatal(err)
	}
}

func TestDiagnostics(t *testing.T) {
	res, err := cluster.Diagnostics(nil)
	must(t, err)
	if res.State != gocb.ClusterStateOnline {
		t.Fatalf("cluster state %v: %+v", res.State, res.Services)
	}
	kv := res.Services["kv"]
	if len(kv) == 0 {
		t.Fatalf("no kv endpoints: %+v", res.Services)
	}
	for _, ep := range kv {
		if ep.State != gocb.EndpointStateConnected {
			t.Fatalf("kv endpoint %s: %v", ep.Remote, ep.State)
		}
	}
}

func TestWaitUntilReady(t *testing.T) {
	c, err := connect(adminUser, adminPass)
	must(t, err)
	defer c.Close(nil)
	must(t, c.WaitUntilReady(10*time.Second, &gocb.WaitUntilReadyOptions{
		ServiceTypes: []gocb.ServiceType{gocb.ServiceTypeManagement},
	}))
	b := c.Bucket("default")
	must(t, b.WaitUntilReady(10*time.Second, &gocb.WaitUntilReadyOptions{
		ServiceTypes: []gocb.ServiceType{gocb.ServiceTypeKeyValue, gocb.ServiceTypeManagement},
	}))
	_, err = b.DefaultCollection().Upsert(key(t, "a"), doc{"x", 1}, nil)
	must(t, err)
}

// --- errors a user meets ---------------------------------------------------------------------

func TestWrongPassword(t *testing.T) {
	c, err := connect(adminUser, "wrong")
	if err == nil {
		defer c.Close(nil)
		// gocb keeps retrying a bootstrap that failed authentication until the deadline.
		err = c.Bucket("default").WaitUntilReady(3*time.Second, nil)
	}
	if err == nil {
		t.Fatal("a wrong password connected")
	}
	if !errors.Is(err, gocb.ErrAuthenticationFailure) && !errors.Is(err, gocb.ErrTimeout) {
		t.Fatalf("error %v, want an authentication failure or a timeout", err)
	}
	// The management service refuses it too.
	_, err = cluster.Buckets().GetAllBuckets(nil) // the good cluster still works
	must(t, err)
}

func TestUnknownBucket(t *testing.T) {
	err := cluster.Bucket("nosuchbucket").WaitUntilReady(3*time.Second, nil)
	if err == nil {
		t.Fatal("an unknown bucket became ready")
	}
}

func TestUnknownCollection(t *testing.T) {
	c := bucket.Scope("_default").Collection("nosuch")
	_, err := c.Get("k", &gocb.GetOptions{Timeout: 1500 * time.Millisecond})
	if err == nil {
		t.Fatal("a get in an unknown collection succeeded")
	}
	if !errors.Is(err, gocb.ErrCollectionNotFound) && !errors.Is(err, gocb.ErrTimeout) {
		t.Fatalf("error %v", err)
	}
}

// The REST calls the SDK's management service and cluster-initialisation scripts rely on.
func TestWhoAmI(t *testing.T) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/whoami", httpPort), nil)
	req.SetBasicAuth(adminUser, adminPass)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"Administrator"`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}
