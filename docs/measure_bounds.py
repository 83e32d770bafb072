"""Measure (issue 24): 50 MB bodies to the chat's ask route (time, server RSS), /v1/models latency meanwhile, 200 stalled
bodies. `python docs/measure_bounds.py PORT PID` against a running `rag ui` (PID: its process)."""
import json, os, socket, subprocess, sys, threading, time
import httpx, psutil
port = int(sys.argv[1]); pid = int(sys.argv[2]); url = f"http://127.0.0.1:{port}"
body = json.dumps({"data": ["x" * 50_000_000]}).encode()
rss = lambda: psutil.Process(pid).memory_info().rss / 2**20
lat = []
stop = False
def models():
    while not stop:
        t = time.monotonic(); httpx.get(url + "/v1/models", timeout=30); lat.append(time.monotonic() - t); time.sleep(0.05)
th = threading.Thread(target=models); th.start()
print(f"RSS before: {rss():.0f} MB")
with httpx.Client(timeout=120) as c:
    for i in range(5):
        t = time.monotonic()
        try:
            r = c.post(url + "/gradio_api/call/ask", content=body, headers={"Content-Type": "application/json"})
            print(f"50 MB POST /gradio_api/call/ask: {r.status_code} in {time.monotonic()-t:.2f} s, {r.text[:90]}")
        except Exception as e:
            print("error", type(e).__name__, e)
stop = True; th.join()
time.sleep(1)
print(f"RSS after 5: {rss():.0f} MB; /v1/models meanwhile: max {max(lat):.2f} s, median {sorted(lat)[len(lat)//2]:.3f} s over {len(lat)}")
socks = []
for _ in range(200):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"POST /gradio_api/call/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789"); socks.append(s)
t = time.monotonic()
for s in socks: s.setblocking(False)
open_ = set(range(200))
while open_ and time.monotonic() - t < 65:
    for i in list(open_):
        try:
            d = socks[i].recv(65536)
            if d == b"": open_.discard(i)
        except BlockingIOError: pass
        except ConnectionResetError: open_.discard(i)
    time.sleep(0.2)
print(f"200 stalled bodies: {200-len(open_)} closed by the server, {len(open_)} still open after {time.monotonic()-t:.0f} s")
