#!/usr/bin/env python3
"""Screenshots of the web UI for docs/screenshots, through chromedriver's
WebDriver protocol (standard library only).

    tools/screenshot.py BASE_URL EMAIL PASSWORD OUT_PREFIX PATH [PATH…]

Signs in through the sign-in page, then for each PATH saves
OUT_PREFIX-<n>-{desktop,phone}-{light,dark}.png (1440×900 and 390×844).
Start a server first (`harmonia demo` data or your own) and chromedriver
on port 9515 (`chromedriver --port=9515 &`; another port through the
environment variable WEBDRIVER_PORT). A PATH may end in `|CSS`: that element
is clicked after the page loads, before the screenshot.
"""
import base64, json, os, sys, time, urllib.request

WD = "http://127.0.0.1:" + os.environ.get("WEBDRIVER_PORT", "9515")


def call(method, path, body=None):
    req = urllib.request.Request(WD + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["value"]


def main():
    base, email, password, prefix, *paths = sys.argv[1:]
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]}}}}
    sid = call("POST", "/session", caps)["sessionId"]
    s = f"/session/{sid}"
    try:
        call("POST", s + "/url", {"url": base + "/login"})
        time.sleep(1)
        call("POST", s + "/execute/sync", {"script": """
            const [e, p] = arguments;
            document.querySelector('input[name=email]').value = e;
            document.querySelector('input[name=password]').value = p;
            document.querySelector('form').requestSubmit();""", "args": [email, password]})
        time.sleep(1.5)
        for n, target in enumerate(paths):
            path, _, click = target.partition("|")
            for device, (w, h) in (("desktop", (1440, 900)), ("phone", (390, 844))):
                for scheme in ("light", "dark"):
                    call("POST", s + "/window/rect", {"width": w, "height": h})
                    call("POST", f"/session/{sid}/goog/cdp/execute", {
                        "cmd": "Emulation.setEmulatedMedia",
                        "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}})
                    call("POST", s + "/url", {"url": base + path})
                    time.sleep(1.2)
                    if click:
                        call("POST", s + "/execute/sync", {
                            "script": "document.querySelector(arguments[0]).click()", "args": [click]})
                        time.sleep(0.8)
                    png = base64.b64decode(call("GET", s + "/screenshot"))
                    out = f"{prefix}-{device}-{scheme}.png" if len(paths) == 1 else f"{prefix}-{n}-{device}-{scheme}.png"
                    open(out, "wb").write(png)
                    print(out)
    finally:
        call("DELETE", s)


if __name__ == "__main__":
    main()
