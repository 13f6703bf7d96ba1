#!/usr/bin/env python3
"""Hidden population run for OS/update inventory: H hosts behind the near router,
each with an OS family; each fetches a random subset of its OS's catalog files
(windows hosts over keep-alive connections, like the article saw), plus background
files; some hosts fetch nothing from the catalog. Writes OUT.pcap, OUT.labels.csv,
OUT.hosts.csv (ip, os, catalog files fetched) and OUT.catalog.csv (file,size,os,product,version).
Usage: population.py OUT HOSTS SEED
Environment: POP_PATH=near|far|vpn picks the client namespace (default near: 1 hop; far: 6 hops, lossy;
vpn: the hosts sit in lab-vpn behind the vgw NAT and the capture is taken on vgw's inside interface gv,
so the flows keep the host addresses: an inside-the-NAT vantage point, MTU 1420, 1% loss at vgw);
POP_KEEPALIVE="windows" lists the OS families that fetch 3 files per connection (add debian for apt-like clients).
Needs the lab up with $LAB/www holding cat.csv and bg.csv: make-lab.sh does it all, or catalog.py, topology.sh up and
server.sh start as make-lab.sh calls them. Then convert.sh OUT turns OUT.pcap into flow files like the other runs.

Changes from the lab's population.py (same hosts, picks and order for the same seed):
- POP_PATH=vpn (capture inside the NAT, above);
- every download is checked: a curl that does not answer 200 with the file's full size, or answers fewer
  lines than it fetched files, is reported as "bad download" on stderr and counted in OUT.check.txt;
- OUT.check.txt also keeps tcpdump's packet counts (captured, received, dropped by kernel) and lists
  client address/port pairs that carried more than one connection (softflowd would merge them into one flow).
The exit status is 1 if a download failed or tcpdump dropped packets."""
import collections, csv, os, random, signal, subprocess, sys, time
out, nhosts, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
www = os.environ.get("LAB", "/tmp/labdata") + "/www"
rng = random.Random(seed)
path = os.environ.get("POP_PATH", "near")
# client namespace, its device, its /24, and where tcpdump listens (namespace, interface)
ns, dev, net, capns, capif = {"near": ("lab-near", "n0", "10.77.1", "lab-srv", "s0"),
                              "far": ("lab-far", "f0", "10.77.6", "lab-srv", "s0"),
                              "vpn": ("lab-vpn", "v0", "10.77.8", "lab-vgw", "gv")}[path]
keepalive = set(os.environ.get("POP_KEEPALIVE", "windows").split(","))
cat = [(r["file"], int(r["size"])) for r in csv.DictReader(open(f"{www}/cat.csv"))]
bg = [(r["file"], int(r["size"])) for r in csv.DictReader(open(f"{www}/bg.csv"))]
osof = {}
for i, (f, s) in enumerate(cat):
    osof[f] = "debian" if i < 20 else ("windows" if i < 35 else "sles")
with open(out + ".catalog.csv", "w", newline="") as fh:
    w = csv.writer(fh); w.writerow(["file", "size", "os", "product", "version"])
    for f, s in cat:
        w.writerow([f, s, osof[f], f"{osof[f]}-update-{f[4:7]}", "1." + f[4:7]])
hosts = []
for h in range(nhosts):
    ip = f"{net}.{10 + h}"
    subprocess.run(["ip", "netns", "exec", ns, "ip", "addr", "add", ip + "/24", "dev", dev], stderr=subprocess.DEVNULL)
    osname = rng.choice(["debian", "windows", "sles", "none"])
    mine = [c for c in cat if osof[c[0]] == osname]
    picks = rng.sample(mine, rng.randint(2, min(8, len(mine)))) if mine else []
    hosts.append((ip, osname, picks + [(f, s) for f, s in rng.sample(bg, rng.randint(1, 4))]))
tcpdump = subprocess.Popen(["ip", "netns", "exec", capns, "tcpdump", "-i", capif, "-s", "96", "-B", "262144",
                            "-w", out + ".pcap", "tcp port 80 or tcp port 443"], stderr=subprocess.PIPE)
time.sleep(1.5)
lw = csv.writer(open(out + ".labels.csv", "w", newline=""))
lw.writerow(["client_ip", "client_port", "server_port", "file", "size", "known", "conn", "pos", "rep"])
jobs = []
for ip, osname, items in hosts:
    items = items[:]; rng.shuffle(items)
    n = 3 if osname in keepalive else 1
    for k in range(0, len(items), n):
        jobs.append((ip, items[k:k + n]))
rng.shuffle(jobs)
bad, ok, conns_of = 0, 0, collections.defaultdict(set)
for conn, (ip, batch) in enumerate(jobs):
    cmd = ["ip", "netns", "exec", ns, "curl", "-s", "--interface", ip, "-w", "%{local_ip},%{local_port},%{size_download},%{http_code}\n"]
    for f, _ in batch:
        cmd += [f"http://10.77.0.1/{f}", "-o", "/dev/null"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    res = proc.stdout.split()
    if len(res) != len(batch):
        print(f"bad download: conn {conn} from {ip}: curl exit {proc.returncode}, {len(res)} answers for {len(batch)} files",
              file=sys.stderr)
        bad += len(batch) - len(res)
    for pos, ((f, s), line) in enumerate(zip(batch, res)):
        lip, lport, got, code = line.split(",")
        if code != "200" or int(got) != s:
            print(f"bad download: conn {conn} {f} size {s}: {line}", file=sys.stderr)
            bad += 1
        else:
            ok += 1
        conns_of[(lip, lport)].add(conn)
        lw.writerow([lip, lport, 80, f, s, int(f in osof), conn, pos, 0])
time.sleep(1.5)
tcpdump.send_signal(signal.SIGINT)
stats = [l for l in tcpdump.communicate()[1].decode().strip().splitlines() if "packets" in l]
with open(out + ".hosts.csv", "w", newline="") as fh:
    w = csv.writer(fh); w.writerow(["ip", "os", "catalog_files"])
    for ip, osname, items in hosts:
        w.writerow([ip, osname, ";".join(sorted(f for f, _ in items if f in osof))])
shared = sorted((k, sorted(v)) for k, v in conns_of.items() if len(v) > 1)
dropped = next((int(l.split()[0]) for l in stats if "dropped by kernel" in l), -1)
mix = collections.Counter(o for _, o, _ in hosts)
with open(out + ".check.txt", "w") as fh:
    print(f"run {os.path.basename(out)}: POP_PATH={path} POP_KEEPALIVE={','.join(sorted(keepalive))} hosts={nhosts} seed={seed}", file=fh)
    print("os mix: " + " ".join(f"{o}={mix[o]}" for o in ["debian", "windows", "sles", "none"]), file=fh)
    print(f"connections: {len(jobs)}; downloads ok: {ok}; bad downloads: {bad}", file=fh)
    print(f"tcpdump on {capns}/{capif}: " + "; ".join(stats), file=fh)
    print(f"client address/port pairs carrying more than one connection: {len(shared)}", file=fh)
    for (lip, lport), cs in shared:
        print(f"  {lip}:{lport} conns {' '.join(map(str, cs))}", file=fh)
print(open(out + ".check.txt").read(), end="")
sys.exit(1 if bad or dropped != 0 else 0)
