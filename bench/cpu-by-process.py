#!/usr/bin/env python3
"""
CPU seconds by process over a run: reads every process's utime+stime from /proc/<pid>/stat
once a second until SIGTERM, then prints them by kind (the test brokers, serverless offline,
the vitest workers, ...), the 60 largest processes and the totals by command.
What BENCHMARKS.md, "The test run", reports:

  python3 bench/cpu-by-process.py > cpu.txt & sampler=$!
  CI=true LOCAL_KAFKA_AUTHZ=on npm test; kill $sampler; wait $sampler
"""
import os, time, sys, json, signal
tck=os.sysconf('SC_CLK_TCK'); seen={}; base={}; first=True
stop=False
def h(*a):
    global stop; stop=True
signal.signal(signal.SIGTERM,h)
def cat(cmd):
    c=cmd
    if 'kafka.Kafka' in c:
        return 'java-broker-shared' if '/.local/state/simple-time-service' in c or 'simple-time-service/kafka' in c and 'sts-' not in c else 'java-broker-private'
    if c.startswith('java') or '/java ' in c or c.startswith('/usr/lib/jvm'): return 'java-tool'
    if 'esbuild' in c: return 'esbuild'
    if 'serverless' in c or 'osls' in c: return 'node-serverless'
    if 'vitest' in c: return 'node-vitest'
    if 'checkov' in c: return 'checkov'
    if 'cfn-lint' in c: return 'cfn-lint'
    if 'chrom' in c: return 'chromium'
    if 'prometheus' in c: return 'prometheus'
    if 'node' in c: return 'node-other'
    if 'python' in c: return 'python'
    return 'other:'+c.split(' ')[0][-20:]
while not stop:
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            st=open(f'/proc/{p}/stat').read(); rp=st.rindex(')'); f=st[rp+2:].split()
            cpu=(int(f[11])+int(f[12]))/tck
            if p not in seen:
                cmd=open(f'/proc/{p}/cmdline','rb').read().replace(b'\0',b' ').decode(errors='replace')
                seen[p]=[cat(cmd),cpu,cmd[:150]]
                if first: base[p]=cpu
            else: seen[p][1]=max(seen[p][1],cpu)
        except Exception: pass
    first=False
    time.sleep(1)
agg={}
for p,(c,v,cmd) in seen.items(): agg[c]=agg.get(c,0)+v-base.get(p,0)
for c,v in sorted(agg.items(), key=lambda x:-x[1]): print(f'{v:8.1f} {c}')
print('--- top processes')
rows=sorted(((v-base.get(p,0),c,cmd) for p,(c,v,cmd) in seen.items()), reverse=True)[:60]
for v,c,cmd in rows: print(f'{v:8.1f} {c:20} {cmd}')
byc={}
for p,(c,v,cmd) in seen.items():
    k=' '.join(cmd.split(' ')[:4])[:90]; byc[k]=byc.get(k,[0,0]); byc[k][0]+=v-base.get(p,0); byc[k][1]+=1
print('--- by command prefix')
for k,(v,n) in sorted(byc.items(), key=lambda x:-x[1][0])[:40]: print(f'{v:8.1f} x{n:<4} {k}')
