// The official Couchbase Java SDK (com.couchbase.client:java-client, pinned in pom.xml) against
// divan-server: what a user of the SDK sees. The class starts a divan-server of its own on free
// ports, every test talks to it, and the server must stop cleanly (exit 0 on SIGTERM) at the end.
// DIVAN_SERVER names the binary (default: <repo>/build/bin/divan-server).
package divan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.couchbase.client.core.diagnostics.ClusterState;
import com.couchbase.client.core.diagnostics.EndpointDiagnostics;
import com.couchbase.client.core.diagnostics.EndpointPingReport;
import com.couchbase.client.core.diagnostics.PingResult;
import com.couchbase.client.core.diagnostics.PingState;
import com.couchbase.client.core.endpoint.EndpointState;
import com.couchbase.client.core.error.BucketExistsException;
import com.couchbase.client.core.error.BucketNotFoundException;
import com.couchbase.client.core.error.CasMismatchException;
import com.couchbase.client.core.error.CollectionExistsException;
import com.couchbase.client.core.error.CouchbaseException;
import com.couchbase.client.core.error.DocumentExistsException;
import com.couchbase.client.core.error.DocumentNotFoundException;
import com.couchbase.client.core.error.ScopeNotFoundException;
import com.couchbase.client.core.error.subdoc.PathNotFoundException;
import com.couchbase.client.core.msg.kv.DurabilityLevel;
import com.couchbase.client.core.service.ServiceType;
import com.couchbase.client.java.Bucket;
import com.couchbase.client.java.Cluster;
import com.couchbase.client.java.ClusterOptions;
import com.couchbase.client.java.Collection;
import com.couchbase.client.java.ReactiveCollection;
import com.couchbase.client.java.codec.RawBinaryTranscoder;
import com.couchbase.client.java.json.JsonObject;
import com.couchbase.client.java.kv.GetOptions;
import com.couchbase.client.java.kv.GetResult;
import com.couchbase.client.java.kv.IncrementOptions;
import com.couchbase.client.java.kv.LookupInResult;
import com.couchbase.client.java.kv.LookupInSpec;
import com.couchbase.client.java.kv.MutateInSpec;
import com.couchbase.client.java.kv.MutationResult;
import com.couchbase.client.java.kv.PersistTo;
import com.couchbase.client.java.kv.ReplaceOptions;
import com.couchbase.client.java.kv.ReplicateTo;
import com.couchbase.client.java.kv.UpsertOptions;
import com.couchbase.client.java.manager.bucket.BucketSettings;
import com.couchbase.client.java.manager.bucket.BucketType;
import com.couchbase.client.java.manager.collection.CollectionManager;
import com.couchbase.client.java.manager.collection.ScopeSpec;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import reactor.core.publisher.Flux;

class InteropTest {
  static Process server;
  static int kvPort, httpPort;
  static Cluster cluster;
  static Bucket bucket;
  static Collection coll;

  static String binary() {
    String p = System.getenv("DIVAN_SERVER");
    return p != null && !p.isEmpty()
        ? p
        : new File("../../../build/bin/divan-server").getAbsolutePath();
  }

  static Cluster connect(String user, String password) {
    return Cluster.connect(
        "couchbase://127.0.0.1:" + kvPort,
        ClusterOptions.clusterOptions(user, password)
            .environment(
                env ->
                    env.timeoutConfig(
                        t ->
                            t.kvTimeout(Duration.ofMillis(2500))
                                .kvDurableTimeout(Duration.ofSeconds(5))
                                .connectTimeout(Duration.ofSeconds(5))
                                .managementTimeout(Duration.ofSeconds(5)))));
  }

  @BeforeAll
  static void start() throws Exception {
    // scripts/install-interop runs the suite once with this set, server-less, so that Maven
    // fetches everything the test run needs (surefire resolves its JUnit provider only then).
    Assumptions.assumeTrue(System.getenv("DIVAN_INTEROP_WARMUP") == null, "warm-up run");
    server =
        new ProcessBuilder(
                binary(), "--kv-port", "0", "--http-port", "0", "--query-port", "0", "--threads", "2",
                "--data-dir",
                java.nio.file.Files.createTempDirectory("divan-interop-java-").toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
    Pattern ports = Pattern.compile("^divan-server kv=(\\d+) http=(\\d+)");
    CompletableFuture<int[]> found = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try {
                String line;
                while ((line = out.readLine()) != null) {
                  Matcher m = ports.matcher(line);
                  if (m.find())
                    found.complete(
                        new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))});
                }
              } catch (Exception e) {
                found.completeExceptionally(e);
              }
              found.completeExceptionally(new IllegalStateException("divan-server exited"));
            });
    reader.setDaemon(true);
    reader.start();
    int[] p = found.get(10, TimeUnit.SECONDS);
    kvPort = p[0];
    httpPort = p[1];
    cluster = connect("Administrator", "password");
    bucket = cluster.bucket("default");
    bucket.waitUntilReady(Duration.ofSeconds(10));
    coll = bucket.defaultCollection();
  }

  @AfterAll
  static void stop() throws Exception {
    if (server == null) return; // the warm-up run
    if (cluster != null) cluster.disconnect();
    assertTrue(server.isAlive(), "divan-server died during the tests");
    server.destroy(); // SIGTERM
    assertTrue(server.waitFor(10, TimeUnit.SECONDS), "divan-server did not stop within 10 s");
    assertEquals(0, server.exitValue(), "divan-server exits 0 on SIGTERM");
  }

  static String key(TestInfo info, String suffix) {
    return "java-" + info.getTestMethod().get().getName() + "-" + suffix;
  }

  // --- key-value -----------------------------------------------------------------------------

  @Test
  void upsertThenGet(TestInfo info) {
    String k = key(info, "a");
    MutationResult m = coll.upsert(k, JsonObject.create().put("name", "ada").put("n", 1));
    assertNotEquals(0, m.cas());
    assertTrue(m.mutationToken().isPresent());
    GetResult g = coll.get(k);
    assertEquals("ada", g.contentAsObject().getString("name"));
    assertEquals(m.cas(), g.cas());
  }

  @Test
  void insertReplaceRemove(TestInfo info) {
    String k = key(info, "a");
    MutationResult m = coll.insert(k, JsonObject.create().put("n", 1));
    assertThrows(DocumentExistsException.class, () -> coll.insert(k, JsonObject.create()));
    assertThrows(
        CasMismatchException.class,
        () -> coll.replace(k, JsonObject.create(), ReplaceOptions.replaceOptions().cas(m.cas() + 1)));
    coll.replace(k, JsonObject.create().put("n", 2), ReplaceOptions.replaceOptions().cas(m.cas()));
    coll.remove(k);
    assertThrows(DocumentNotFoundException.class, () -> coll.get(k));
    assertThrows(DocumentNotFoundException.class, () -> coll.remove(k));
  }

  @Test
  void expiryTouchAndLock(TestInfo info) {
    String k = key(info, "a");
    coll.upsert(k, JsonObject.create(), UpsertOptions.upsertOptions().expiry(Duration.ofHours(1)));
    Optional<Instant> exp = coll.get(k, GetOptions.getOptions().withExpiry(true)).expiryTime();
    assertTrue(exp.isPresent());
    assertTrue(exp.get().isAfter(Instant.now().plus(Duration.ofMinutes(50))));
    coll.touch(k, Duration.ofHours(2));
    GetResult locked = coll.getAndLock(k, Duration.ofSeconds(10));
    assertThrows(
        CouchbaseException.class,
        () ->
            coll.upsert(
                k, JsonObject.create(), UpsertOptions.upsertOptions().timeout(Duration.ofMillis(300))));
    coll.unlock(k, locked.cas());
    coll.upsert(k, JsonObject.create().put("after", true));
  }

  @Test
  void countersAndBinary(TestInfo info) {
    String k = key(info, "ctr");
    assertEquals(
        10,
        coll.binary().increment(k, IncrementOptions.incrementOptions().initial(10).delta(5)).content());
    assertEquals(15, coll.binary().increment(k, IncrementOptions.incrementOptions().delta(5)).content());
    String b = key(info, "bin");
    coll.upsert(
        b, "mid".getBytes(StandardCharsets.UTF_8),
        UpsertOptions.upsertOptions().transcoder(RawBinaryTranscoder.INSTANCE));
    coll.binary().append(b, "-end".getBytes(StandardCharsets.UTF_8));
    coll.binary().prepend(b, "start-".getBytes(StandardCharsets.UTF_8));
    byte[] got =
        coll.get(b, GetOptions.getOptions().transcoder(RawBinaryTranscoder.INSTANCE))
            .contentAs(byte[].class);
    assertEquals("start-mid-end", new String(got, StandardCharsets.UTF_8));
    assertTrue(coll.exists(b).exists());
    assertFalse(coll.exists(key(info, "nope")).exists());
  }

  // --- sub-document --------------------------------------------------------------------------

  @Test
  void lookupInAndMutateIn(TestInfo info) {
    String k = key(info, "a");
    coll.upsert(k, JsonObject.create().put("n", 1).put("tags", List.of("a", "b")));
    coll.mutateIn(
        k,
        List.of(
            MutateInSpec.upsert("name", "ada"),
            MutateInSpec.increment("n", 4),
            MutateInSpec.arrayAppend("tags", List.of("c")),
            MutateInSpec.upsert("meta.by", "java").xattr().createPath()));
    LookupInResult r =
        coll.lookupIn(
            k,
            List.of(
                LookupInSpec.get("name"),
                LookupInSpec.get("n"),
                LookupInSpec.count("tags"),
                LookupInSpec.get("meta.by").xattr(),
                LookupInSpec.exists("missing")));
    assertEquals("ada", r.contentAs(0, String.class));
    assertEquals(5, r.contentAs(1, Integer.class));
    assertEquals(3, r.contentAs(2, Integer.class));
    assertEquals("java", r.contentAs(3, String.class));
    assertFalse(r.exists(4));
    assertThrows(
        PathNotFoundException.class,
        () -> coll.mutateIn(k, List.of(MutateInSpec.replace("no.such", 1))));
  }

  // --- durability ----------------------------------------------------------------------------

  @Test
  void durability(TestInfo info) {
    String k = key(info, "a");
    coll.upsert(
        k, JsonObject.create(), UpsertOptions.upsertOptions().durability(DurabilityLevel.MAJORITY));
    coll.upsert(
        k,
        JsonObject.create(),
        UpsertOptions.upsertOptions().durability(DurabilityLevel.PERSIST_TO_MAJORITY));
    // Client-side durability: the SDK observes the write.
    coll.upsert(
        k, JsonObject.create(), UpsertOptions.upsertOptions().durability(PersistTo.ACTIVE, ReplicateTo.NONE));
    assertThrows(
        CouchbaseException.class,
        () ->
            coll.upsert(
                k, JsonObject.create(), UpsertOptions.upsertOptions().durability(PersistTo.NONE, ReplicateTo.ONE)));
  }

  // --- bulk ----------------------------------------------------------------------------------

  @Test
  void bulkReactive(TestInfo info) {
    ReactiveCollection rc = coll.reactive();
    List<String> ids =
        IntStream.range(0, 200).mapToObj(i -> key(info, "" + i)).collect(Collectors.toList());
    Flux.fromIterable(ids)
        .flatMap(id -> rc.upsert(id, JsonObject.create().put("id", id)))
        .collectList()
        .block(Duration.ofSeconds(30));
    List<GetResult> got =
        Flux.fromIterable(ids).flatMap(rc::get).collectList().block(Duration.ofSeconds(30));
    assertEquals(200, got.size());
    Set<String> seen =
        got.stream().map(g -> g.contentAsObject().getString("id")).collect(Collectors.toSet());
    assertEquals(Set.copyOf(ids), seen);
  }

  // --- management ----------------------------------------------------------------------------

  @Test
  void scopesAndCollections() {
    CollectionManager mgr = bucket.collections();
    mgr.createScope("japp");
    mgr.createCollection("japp", "users");
    assertThrows(CollectionExistsException.class, () -> mgr.createCollection("japp", "users"));
    assertThrows(ScopeNotFoundException.class, () -> mgr.createCollection("nosuch", "users"));
    List<ScopeSpec> scopes = mgr.getAllScopes();
    assertTrue(
        scopes.stream()
            .anyMatch(
                s ->
                    s.name().equals("japp")
                        && s.collections().stream().anyMatch(c -> c.name().equals("users"))));
    Collection users = bucket.scope("japp").collection("users");
    users.upsert("u1", JsonObject.create().put("name", "ada"));
    assertEquals("ada", users.get("u1").contentAsObject().getString("name"));
    mgr.dropCollection("japp", "users");
    mgr.dropScope("japp");
    assertThrows(ScopeNotFoundException.class, () -> mgr.dropScope("japp"));
  }

  @Test
  void buckets() {
    var bm = cluster.buckets();
    bm.createBucket(
        BucketSettings.create("javab").ramQuotaMB(128).bucketType(BucketType.COUCHBASE).flushEnabled(true));
    assertThrows(
        BucketExistsException.class,
        () -> bm.createBucket(BucketSettings.create("javab").ramQuotaMB(128)));
    BucketSettings s = bm.getBucket("javab");
    assertEquals(128, s.ramQuotaMB());
    assertTrue(s.flushEnabled());
    bm.updateBucket(s.ramQuotaMB(256));
    assertEquals(256, bm.getBucket("javab").ramQuotaMB());
    Map<String, BucketSettings> all = bm.getAllBuckets();
    assertTrue(all.containsKey("javab"));
    Bucket b = cluster.bucket("javab");
    b.waitUntilReady(Duration.ofSeconds(10));
    b.defaultCollection().upsert("k", JsonObject.create());
    bm.flushBucket("javab");
    assertThrows(DocumentNotFoundException.class, () -> b.defaultCollection().get("k"));
    bm.dropBucket("javab");
    assertThrows(BucketNotFoundException.class, () -> bm.getBucket("javab"));
  }

  // --- ping, diagnostics, readiness ----------------------------------------------------------

  @Test
  void pingAndDiagnostics() {
    PingResult p = bucket.ping();
    List<EndpointPingReport> kv = p.endpoints().get(ServiceType.KV);
    assertTrue(kv != null && !kv.isEmpty(), p.exportToJson());
    for (EndpointPingReport r : kv) assertEquals(PingState.OK, r.state(), p.exportToJson());
    var d = cluster.diagnostics();
    assertEquals(ClusterState.ONLINE, d.state(), d.exportToJson());
    for (EndpointDiagnostics e : d.endpoints().get(ServiceType.KV))
      assertEquals(EndpointState.CONNECTED, e.state());
  }

  @Test
  void waitUntilReady() {
    Cluster c = connect("Administrator", "password");
    try {
      c.waitUntilReady(Duration.ofSeconds(10));
      Bucket b = c.bucket("default");
      b.waitUntilReady(Duration.ofSeconds(10));
      b.defaultCollection().upsert("java-wur", JsonObject.create());
    } finally {
      c.disconnect();
    }
  }

  @Test
  void wrongPasswordFails() {
    Cluster c = connect("Administrator", "wrong");
    try {
      assertThrows(
          CouchbaseException.class,
          () -> c.bucket("default").defaultCollection().get("k", GetOptions.getOptions().timeout(Duration.ofSeconds(2))));
    } finally {
      c.disconnect();
    }
  }
}
