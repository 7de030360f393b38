#!/usr/bin/env bash
# deploy/: the Kubernetes manifests parse as YAML and say what a sharded
# run needs (an Indexed Job whose --shard K/N matches its completions, one
# run id for the whole Job, a verify Job, private keys from Secrets mounted
# read-only with owner-only modes and never handed to migrate as Secret
# symlinks, a plan that points into the pod's mounts); the shell scripts
# pass bash -n (and shellcheck when installed).  Then the schedulers'
# command lines are run for real on one machine: the Job's and the verify
# Job's containers' commands, the Slurm array script (as each array task
# and the verify step, and its submit mode against a stand-in sbatch), and
# deploy/parallel/run-shards.sh with xargs (and GNU parallel when
# installed), including a failed shard that is resumed.
. "$(dirname "$0")/lib.sh"
DEPLOY="$REPO_DIR/deploy"
[ -d "$DEPLOY/kubernetes" ] || fail "no $DEPLOY/kubernetes"
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "python3-yaml is not installed (apt-get install python3-yaml): skipped"
	exit 77
fi

# 1. The manifests.  Writes $T/k8s/{shard,verify}.cmd (one argument a line)
# and $T/k8s/plan.toml for the checks below.
mkdir -p "$T/k8s"
python3 - "$DEPLOY/kubernetes" "$T/k8s" <<'PY' || fail "kubernetes manifests"
import glob, os, re, sys
import yaml

kdir, out = sys.argv[1], sys.argv[2]
errors = []
def bad(msg):
    errors.append(msg)

docs = []
files = sorted(glob.glob(os.path.join(kdir, "*.yaml")) +
               glob.glob(os.path.join(kdir, "*.yml")))
if not files:
    bad("no *.yaml in " + kdir)
for f in files:
    name = os.path.basename(f)
    try:
        with open(f) as fp:
            for d in yaml.safe_load_all(fp):
                if d is None:
                    continue
                for k in ("apiVersion", "kind", "metadata"):
                    if k not in d:
                        bad("%s: a document without %s" % (name, k))
                if "name" not in d.get("metadata", {}):
                    bad("%s: %s without metadata.name" % (name, d.get("kind")))
                docs.append((name, d))
    except yaml.YAMLError as e:
        bad("%s: not valid YAML: %s" % (name, e))
if errors:
    print("\n".join(errors)); sys.exit(1)

def of_kind(kind):
    return [(n, d) for n, d in docs if d.get("kind") == kind]

configmaps = {d["metadata"]["name"]: d for n, d in of_kind("ConfigMap")}
pvcs = {d["metadata"]["name"]: d for n, d in of_kind("PersistentVolumeClaim")}

def argv(c):
    return [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]

def migrate_container(pod, where):
    cs = [c for c in pod.get("containers", []) if argv(c)[:1] == ["migrate"]]
    if len(cs) != 1:
        bad("%s: want one container running migrate, found %d" % (where, len(cs)))
        return None
    return cs[0]

def check_pod(where, pod, c):
    """Secrets, security context, $(VAR) references of container c."""
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        bad("%s: the pod does not set runAsNonRoot: true" % where)
    if pod.get("restartPolicy") != "Never":
        bad("%s: restartPolicy must be Never (podFailurePolicy)" % where)
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    secret_vols = {n for n, v in vols.items() if "secret" in v}
    for n in secret_vols:
        s = vols[n]["secret"]
        mode = s.get("defaultMode")
        if not isinstance(mode, int) or mode & 0o077:
            bad("%s: Secret volume %s: defaultMode %r lets group or others "
                "read it (want 0400 or 0600)" % (where, n, mode))
        for it in s.get("items", []):
            if "mode" in it and it["mode"] & 0o077:
                bad("%s: Secret volume %s: item %s mode %o" %
                    (where, n, it.get("key"), it["mode"]))
    allc = pod.get("initContainers", []) + pod.get("containers", [])
    mounted = set()
    for cc in allc:
        for m in cc.get("volumeMounts", []):
            if m["name"] in secret_vols:
                mounted.add(m["name"])
                if m.get("readOnly") is not True:
                    bad("%s: container %s mounts Secret %s writable" %
                        (where, cc["name"], m["name"]))
                # Secret files are symlinks (KEY -> ..data/KEY): migrate
                # refuses them as keys unless a subPath mount resolves them.
                if cc is c and "subPath" not in m:
                    bad("%s: migrate gets Secret %s as symbolic links, which "
                        "it refuses for private keys" % (where, m["name"]))
            if m["name"] not in vols:
                bad("%s: container %s mounts unknown volume %s" %
                    (where, cc["name"], m["name"]))
    for n in secret_vols - mounted:
        bad("%s: Secret volume %s is mounted nowhere" % (where, n))
    if not secret_vols:
        bad("%s: no Secret volume (SSH identity, audit signing key)" % where)
    for cc in allc:
        sc = cc.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            bad("%s: container %s allows privilege escalation" % (where, cc["name"]))
    # Every $(VAR) in the command is defined (JOB_COMPLETION_INDEX is
    # added by the Job controller to Indexed Jobs' pods).
    env = {e["name"]: e for e in c.get("env", [])}
    for a in argv(c):
        for v in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
            if v not in env and v != "JOB_COMPLETION_INDEX":
                bad("%s: $(%s) in the command is not in the env" % (where, v))
    rid = env.get("RUN_ID")
    if rid is None:
        bad("%s: no RUN_ID env var" % where)
    elif "value" not in rid:
        bad("%s: RUN_ID must be a value in the Job itself (set once for the "
            "whole Job), not valueFrom" % where)
    for e in env.values():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None and ref.get("name") in configmaps:
            bad("%s: %s comes from a ConfigMap" % (where, e["name"]))
    cmaps = [v["configMap"]["name"] for v in vols.values() if "configMap" in v]
    for cm in cmaps:
        if cm not in configmaps:
            bad("%s: ConfigMap %s is not defined in deploy/kubernetes" % (where, cm))
    for v in vols.values():
        claim = v.get("persistentVolumeClaim", {}).get("claimName")
        if claim == "migrate-audit" and claim not in pvcs:
            bad("%s: PersistentVolumeClaim %s is not defined" % (where, claim))
    return vols

def mounts_of(c, vols):
    return [(m["mountPath"].rstrip("/") or "/", vols.get(m["name"], {}), m)
            for m in c.get("volumeMounts", [])]

jobs = of_kind("Job")
indexed = [(n, d) for n, d in jobs if d["spec"].get("completionMode") == "Indexed"]
if len(indexed) != 1:
    bad("want one Indexed Job, found %d" % len(indexed))
else:
    n, job = indexed[0]
    where = "%s: Job %s" % (n, job["metadata"]["name"])
    spec = job["spec"]
    N = spec.get("completions")
    if not isinstance(N, int) or N < 1:
        bad("%s: completions %r" % (where, N))
    par = spec.get("parallelism")
    if not isinstance(par, int) or not 1 <= par <= (N or 0):
        bad("%s: parallelism %r is not 1..completions" % (where, par))
    pod = spec["template"]["spec"]
    c = migrate_container(pod, where)
    if c is not None:
        a = argv(c)
        if a[:3] != ["migrate", "run", "/plan/plan.toml"]:
            bad("%s: the command is not migrate run /plan/plan.toml: %s" % (where, a))
        def after(opt):
            return a[a.index(opt) + 1] if opt in a and a.index(opt) + 1 < len(a) else None
        if after("--shard") != "$(JOB_COMPLETION_INDEX)/%s" % N:
            bad("%s: --shard %r, want $(JOB_COMPLETION_INDEX)/%s (= completions)"
                % (where, after("--shard"), N))
        if after("--run-id") != "$(RUN_ID)":
            bad("%s: --run-id %r, want $(RUN_ID)" % (where, after("--run-id")))
        for o in ("--no-progress", "--json"):
            if o not in a:
                bad("%s: no %s" % (where, o))
        vols = check_pod(where, pod, c)
        with open(os.path.join(out, "shard.cmd"), "w") as fp:
            fp.write("\n".join(a) + "\n")
        # The init container that turns Secrets into key files.
        for ic in pod.get("initContainers", []):
            ia = argv(ic)
            if ia[:2] == ["/bin/sh", "-c"] and len(ia) == 3:
                with open(os.path.join(out, "init.sh"), "w") as fp:
                    fp.write(ia[2])
        # The plan's paths lie in the migrate container's mounts.
        plan_cm = [v["configMap"]["name"] for p, v, m in mounts_of(c, vols)
                   if p == "/plan" and "configMap" in v]
        if not plan_cm:
            bad("%s: no ConfigMap mounted at /plan" % where)
        elif "plan.toml" not in configmaps.get(plan_cm[0], {}).get("data", {}):
            bad("%s: ConfigMap %s has no plan.toml" % (where, plan_cm[0]))
        else:
            text = configmaps[plan_cm[0]]["data"]["plan.toml"]
            with open(os.path.join(out, "plan.toml"), "w") as fp:
                fp.write(text)
            try:
                import tomllib
            except ImportError:
                tomllib = None
            if tomllib is not None:
                plan = tomllib.loads(text)
                def mount_for(path):
                    best = None
                    for p, v, m in mounts_of(c, vols):
                        if path == p or path.startswith(p + "/"):
                            if best is None or len(p) > len(best[0]):
                                best = (p, v, m)
                    return best
                paths = [("source.path", plan.get("source", {}).get("path"), "ro"),
                         ("audit.log", plan.get("audit", {}).get("log"), "rw")]
                for k in ("identity", "known_hosts", "ca_file"):
                    paths.append(("destination." + k,
                                  plan.get("destination", {}).get(k), "key"))
                paths.append(("audit.signing_key",
                              plan.get("audit", {}).get("signing_key"), "key"))
                paths.append(("encryption.recipients_file",
                              plan.get("encryption", {}).get("recipients_file"), "ro"))
                for k, p, want in paths:
                    if p is None:
                        continue
                    if not p.startswith("/"):
                        bad("%s: plan %s %r is not an absolute path" % (where, k, p))
                        continue
                    mt = mount_for(p)
                    if mt is None:
                        bad("%s: plan %s %s is in no mount" % (where, k, p))
                        continue
                    mp, v, m = mt
                    if want == "rw" and (m.get("readOnly") or "persistentVolumeClaim" not in v):
                        bad("%s: plan %s %s is not on a writable volume" % (where, k, p))
                    if want == "rw" and v["persistentVolumeClaim"]["claimName"] in pvcs:
                        modes = pvcs[v["persistentVolumeClaim"]["claimName"]]["spec"].get("accessModes", [])
                        if par > 1 and "ReadWriteMany" not in modes:
                            bad("%s: the audit volume is not ReadWriteMany" % where)
                    if want == "key" and v.get("emptyDir", {}).get("medium") != "Memory":
                        bad("%s: plan %s %s is not on the memory-backed key volume"
                            % (where, k, p))

verify = [(n, d) for n, d in jobs if d["spec"].get("completionMode") != "Indexed"]
vjobs = []
for n, job in verify:
    pod = job["spec"]["template"]["spec"]
    where = "%s: Job %s" % (n, job["metadata"]["name"])
    c = migrate_container(pod, where)
    if c is None:
        continue
    a = argv(c)
    if a[:3] == ["migrate", "verify", "/plan/plan.toml"]:
        vjobs.append(a)
        if "--run" not in a or a[a.index("--run") + 1:a.index("--run") + 2] != ["$(RUN_ID)"]:
            bad("%s: verify without --run $(RUN_ID)" % where)
        if "--json" not in a:
            bad("%s: verify without --json" % where)
        check_pod(where, pod, c)
        with open(os.path.join(out, "verify.cmd"), "w") as fp:
            fp.write("\n".join(a) + "\n")
if len(vjobs) != 1:
    bad("want one verify Job (migrate verify /plan/plan.toml --run $(RUN_ID)), "
        "found %d" % len(vjobs))
if errors:
    print("\n".join(errors)); sys.exit(1)
print("kubernetes: %d documents in %d files" % (len(docs), len(files)))
PY
[ -s "$T/k8s/shard.cmd" ] && [ -s "$T/k8s/verify.cmd" ] || fail "no commands extracted"
# plan check is a preflight (issue 18): the container's paths are made
# under $T/root, and the plan is checked with them moved there.
R="$T/root"
mkdir -p "$R/data/billing" "$R/plan" "$R/keys" "$R/audit"
echo a > "$R/data/billing/a.csv"
"$MIGRATE" keygen -q -o "$R/plan/lake.key" || fail "keygen"
cp "$R/plan/lake.key.pub" "$R/plan/lake.pub"
"$MIGRATE" keygen -q --signing -o "$R/keys/audit.pem" > /dev/null || fail "keygen --signing"
ssh-keygen -q -t ed25519 -N '' -f "$R/keys/id_ed25519" || fail "ssh-keygen"
echo "lake.example.internal $(cut -d' ' -f1,2 "$R/keys/id_ed25519.pub")" > "$R/keys/known_hosts"
sed -E "s#\"/(data|plan|keys|audit)/#\"$R/\1/#g" "$T/k8s/plan.toml" > "$T/k8s/plan-here.toml"
expect_exit 0 "$MIGRATE" plan check "$T/k8s/plan-here.toml"
grep -q '@RUN_ID@' "$DEPLOY/kubernetes/migrate-job.yaml" ||
    fail "migrate-job.yaml has no @RUN_ID@ placeholder (README.md substitutes it)"
grep -q 'JOB_COMPLETION_INDEX' "$DEPLOY/kubernetes/migrate-job.yaml" ||
    fail "migrate-job.yaml does not use JOB_COMPLETION_INDEX"
grep -q 'openssl rand -hex 4' "$DEPLOY/kubernetes/README.md" ||
    fail "deploy/kubernetes/README.md does not say how to make a RUN_ID"

# 2. Shell: bash -n, and shellcheck when installed.
scripts=("$DEPLOY"/slurm/*.sh "$DEPLOY"/parallel/*.sh "$REPO_DIR/completions/migrate.bash")
for s in "${scripts[@]}"; do
	[ -f "$s" ] || fail "missing $s"
	bash -n "$s" || fail "bash -n $s"
done
if command -v shellcheck >/dev/null 2>&1; then
	shellcheck -s bash "${scripts[@]}" || fail "shellcheck"
else
	echo "shellcheck not installed: not run"
fi
grep -q '^#SBATCH --array=0-' "$DEPLOY/slurm/migrate-array.sh" || fail "no #SBATCH --array"

# 3. The command lines, run here.
if ! "$MIGRATE" help run | grep -q -- '--shard'; then
	echo "this migrate has no --shard: command lines not run"
	exit 0
fi
setup_plans
src="$T/src"
for d in a b c; do
	mkdir -p "$src/$d"
	for i in $(seq 1 12); do printf '%s %d\n' "$d" "$i" > "$src/$d/f$i.txt"; done
done
newid() { printf '%s-%s\n' "$(date -u +%Y%m%dT%H%M%SZ)" "$(openssl rand -hex 4)"; }
nobj=36

# 3a. The Kubernetes commands, with the pod's variables filled in.
write_plan "$T/k.toml" replatform "$src"
N=$(sed -n 's|^\$(JOB_COMPLETION_INDEX)/\([0-9]*\)$|\1|p' "$T/k8s/shard.cmd")
[ -n "$N" ] || fail "no N in the Job's command"
id=$(newid)
for k in $(seq 0 $((N - 1))); do
	mapfile -t cmd < <(sed -e "s|\$(JOB_COMPLETION_INDEX)|$k|" \
	    -e "s|\$(RUN_ID)|$id|" -e 's|\$(MIGRATE_JOBS)|2|' \
	    -e "s|^/plan/plan.toml\$|$T/k.toml|" -e "1s|^migrate\$|$MIGRATE|" \
	    "$T/k8s/shard.cmd")
	expect_exit 0 "${cmd[@]}"
	[ "$(json "$T/out" 'd["outcome"]')" = complete ] || fail "pod $k: not complete"
done
mapfile -t cmd < <(sed -e "s|\$(RUN_ID)|$id|" -e "s|^/plan/plan.toml\$|$T/k.toml|" \
    -e "1s|^migrate\$|$MIGRATE|" "$T/k8s/verify.cmd")
expect_exit 0 "${cmd[@]}"
[ "$(json "$T/out" 'd["shards"]')" = "$N" ] || fail "the verify Job did not check $N shards"
[ "$(json "$T/out" 'd["objects"]')" = $nobj ] || fail "the $N pods did not land $nobj objects"

# The init container's copy, on a Secret volume's layout (KEY ->
# ..data/KEY, group-readable as with an fsGroup): migrate refuses the
# Secret's file and accepts the copy.
if [ -s "$T/k8s/init.sh" ]; then
	ts=..2026_11_25_10_15_00.000000001
	for v in ssh audit; do
		mkdir -p "$T/secrets/$v/$ts"
		ln -s "$ts" "$T/secrets/$v/..data"
	done
	"$MIGRATE" keygen --signing -o "$T/secrets/audit/$ts/audit.pem" >/dev/null 2>&1 ||
	    fail "keygen --signing"
	echo "dummy" > "$T/secrets/ssh/$ts/known_hosts"
	chmod 0440 "$T/secrets/audit/$ts/audit.pem" "$T/secrets/ssh/$ts/known_hosts"
	ln -s ..data/audit.pem "$T/secrets/audit/audit.pem"
	ln -s ..data/known_hosts "$T/secrets/ssh/known_hosts"
	mkdir -p "$T/keys"
	sed -e "s|/secrets/|$T/secrets/|g" -e "s|/keys/|$T/keys/|g" \
	    "$T/k8s/init.sh" > "$T/init.sh"
	sh "$T/init.sh" || fail "the init container's script failed"
	[ -f "$T/keys/audit.pem" ] && [ ! -L "$T/keys/audit.pem" ] ||
	    fail "the init container made no regular file keys/audit.pem"
	[ "$(stat -c %a "$T/keys/audit.pem")" = 400 ] || fail "keys/audit.pem is not 0400"
	[ "$(stat -c %a "$T/keys/known_hosts")" = 400 ] || fail "keys/known_hosts is not 0400"
	for key in "$T/secrets/audit/audit.pem" "$T/keys/audit.pem"; do
		write_plan "$T/key.toml" replatform "$src" "signing_key = \"$key\""
		sed -i "s/t-replatform/t-key/" "$T/key.toml"
		if [ "$key" = "$T/keys/audit.pem" ]; then
			expect_exit 0 "$MIGRATE" run --no-progress "$T/key.toml"
		else
			expect_exit 1 "$MIGRATE" run --no-progress "$T/key.toml"
			expect_err "symbolic link"
		fi
	done
fi

# 3b. Slurm: each array task, then the verify step.
slurm="$DEPLOY/slurm/migrate-array.sh"
write_plan "$T/s.toml" rehost "$src"
id=$(newid)
for k in 0 1 2 3; do
	expect_exit 0 env MIGRATE="$MIGRATE" RUN_ID="$id" SLURM_ARRAY_TASK_ID=$k \
	    SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=3 SLURM_ARRAY_TASK_COUNT=4 \
	    SLURM_CPUS_PER_TASK=2 bash "$slurm" "$T/s.toml"
	[ "$(json "$T/out" 'd["shard"]["n"]')" = 4 ] || fail "array task $k: not shard of 4"
done
expect_exit 0 env MIGRATE="$MIGRATE" RUN_ID="$id" bash "$slurm" --verify "$T/s.toml"
[ "$(json "$T/out" 'd["shards"]')" = 4 ] || fail "slurm verify did not check 4 shards"
# A resubmitted single index must be told N; no run id is refused.
expect_exit 2 env MIGRATE="$MIGRATE" RUN_ID="$id" SLURM_ARRAY_TASK_ID=2 \
    SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=1 \
    bash "$slurm" "$T/s.toml"
expect_err "SHARDS"
expect_exit 0 env MIGRATE="$MIGRATE" RUN_ID="$id" SHARDS=4 SLURM_ARRAY_TASK_ID=2 \
    SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=1 \
    bash "$slurm" "$T/s.toml"
expect_exit 2 env -u RUN_ID MIGRATE="$MIGRATE" SLURM_ARRAY_TASK_ID=0 \
    SLURM_ARRAY_TASK_COUNT=4 bash "$slurm" "$T/s.toml"
# submit: the array 0..N-1 with one run id, then verify afterok:ARRAY.
mkdir -p "$T/bin"
cat > "$T/bin/sbatch" <<'EOF'
#!/bin/sh
n=$(cat "$SBATCH_LOG.n" 2>/dev/null || echo 100)
n=$((n + 1)); echo "$n" > "$SBATCH_LOG.n"
echo "$n $*" >> "$SBATCH_LOG"
echo "$n;cluster"
EOF
chmod +x "$T/bin/sbatch"
expect_exit 0 env PATH="$T/bin:$PATH" SBATCH_LOG="$T/sbatch.log" \
    bash "$slurm" submit "$T/s.toml" 6 --partition=p
[ "$(wc -l < "$T/sbatch.log")" = 2 ] || fail "submit: not two sbatch calls"
sed -n 1p "$T/sbatch.log" | grep -Eq -- '^101 .*--array=0-5 .*--export=ALL,RUN_ID=[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8},SHARDS=6 .*--partition=p .*migrate-array.sh /.*s\.toml$' ||
    { cat "$T/sbatch.log"; fail "submit: wrong array sbatch"; }
sed -n 2p "$T/sbatch.log" | grep -Eq -- '^102 .*--dependency=afterok:101 .*migrate-array.sh --verify /.*s\.toml$' ||
    { cat "$T/sbatch.log"; fail "submit: wrong verify sbatch"; }
rid1=$(sed -n '1s/.*RUN_ID=\([^,]*\),.*/\1/p' "$T/sbatch.log")
grep -q "^102 .*RUN_ID=$rid1 " "$T/sbatch.log" || fail "submit: two run ids"
expect_out "$rid1"

# 3c. run-shards.sh, with xargs and (when installed) GNU parallel.
rs="$DEPLOY/parallel/run-shards.sh"
runners=(xargs)
command -v parallel >/dev/null 2>&1 && parallel --version 2>/dev/null |
    grep -q 'GNU parallel' && runners+=(parallel)
for r in "${runners[@]}"; do
	write_plan "$T/p-$r.toml" replatform "$src"
	sed -i "s/t-replatform/t-$r/" "$T/p-$r.toml"
	expect_exit 0 env MIGRATE="$MIGRATE" RUN_SHARDS_RUNNER="$r" bash "$rs" \
	    -n 5 -P 3 --logs "$T/logs-$r" "$T/p-$r.toml"
	expect_out "verified, all 5 shards"
	[ "$(json "$T/logs-$r/verify.json" 'd["objects"]')" = $nobj ] ||
	    fail "run-shards ($r): not $nobj objects"
	[ "$(grep -c '(exit 0)' "$T/out")" = 5 ] || fail "run-shards ($r): not 5 shards ok"
done
# A shard that fails (a stand-in migrate: exit 4 for shard 1) is named
# with the command that resumes it; that command completes the run.
cat > "$T/bin/flaky" <<EOF
#!/bin/sh
case " \$* " in *" --shard 1/3 "*) echo "migrate: interrupted" >&2; exit 4 ;; esac
exec "$MIGRATE" "\$@"
EOF
chmod +x "$T/bin/flaky"
write_plan "$T/f.toml" rehost "$src"
id=$(newid)
expect_exit 4 env MIGRATE="$T/bin/flaky" RUN_SHARDS_RUNNER=xargs bash "$rs" \
    -n 3 --run-id "$id" --logs "$T/logs-f" "$T/f.toml"
expect_err "--run-id $id --shards 1 "
expect_exit 3 "$MIGRATE" verify --run "$id" "$T/f.toml"
expect_out "shard=1-of-3"
expect_exit 0 env MIGRATE="$MIGRATE" RUN_SHARDS_RUNNER=xargs bash "$rs" \
    -n 3 --run-id "$id" --shards 1 --logs "$T/logs-f" "$T/f.toml"
expect_out "verified, all 3 shards"
expect_exit 2 env MIGRATE="$MIGRATE" bash "$rs" -n 3 --run-id nope "$T/f.toml"
expect_exit 2 env MIGRATE="$MIGRATE" bash "$rs" -n 3 --shards 3 "$T/f.toml"
echo "ok: manifests, scripts and their command lines"
