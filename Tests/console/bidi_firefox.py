"""Firefox driven through WebDriver BiDi, which Firefox speaks itself: no geckodriver.

`Firefox(binary)` starts a headless Firefox on loopback with a throwaway profile and offers
the part of Selenium's WebDriver API that test_console.py uses (get, find_element(s) by id,
CSS selector, link text and XPath, execute_script, save_screenshot, set_window_size,
current_url, page_source, quit; on elements click, send_keys, clear, text, get_attribute,
tag_name and scoped find_element(s)), raising Selenium's exceptions, so Selenium's
WebDriverWait and expected_conditions work on it unchanged. Clicks and typing are real
input (input.performActions). Like chromedriver, a command waits for a navigation that is
under way (a clicked link, a posted form) to finish loading. Every wait is bounded."""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import websocket
from selenium.common.exceptions import (InvalidSelectorException, NoSuchElementException,
                                        StaleElementReferenceException, TimeoutException, WebDriverException)

TIMEOUT = 30          # seconds: the bound on every wait
# Seconds after a click or keys for a navigation to start. Firefox reports a navigation that
# an input starts before it answers input.performActions; this covers one started just after.
NAVIGATION_GRACE = 0.5

PREFERENCES = {
    "intl.accept_languages": "nl",
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
    "app.update.disabledForTesting": True,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "extensions.update.enabled": False,
    "dom.disable_beforeunload": True,
}

# Finds elements under `root` (or the document) the way WebDriver's locator strategies do.
FIND = """(using, value, root) => {
  const scope = root || document;
  if (using === "id") return Array.from(scope.querySelectorAll("#" + CSS.escape(value)));
  if (using === "css selector") return Array.from(scope.querySelectorAll(value));
  if (using === "link text")
    return Array.from(scope.querySelectorAll("a")).filter(a => a.innerText.trim() === value.trim());
  if (using === "xpath") {
    const found = document.evaluate(value, scope, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const all = [];
    for (let i = 0; i < found.snapshotLength; i++) {
      if (found.snapshotItem(i).nodeType === Node.ELEMENT_NODE) all.push(found.snapshotItem(i));
    }
    return all;
  }
  throw new SyntaxError("unsupported locator strategy: " + using);
}"""

KEYS = {"\n": "\ue007", "\r": "\ue007", "\t": "\ue004"}  # as chromedriver types them


class Firefox:
    def __init__(self, binary, width=1280, height=1000):
        self.profile = tempfile.mkdtemp(prefix="veld-firefox-")
        with open(os.path.join(self.profile, "user.js"), "w") as prefs:
            for name, value in PREFERENCES.items():
                prefs.write(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n")
        self.process = subprocess.Popen([binary, "--headless", "--no-remote", "--profile", self.profile, "--remote-debugging-port=0"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, errors="replace", start_new_session=True)
        self.log = []           # Firefox's stderr, for messages when something goes wrong
        self.errors = []        # JavaScript errors the pages logged
        self.lock = threading.Condition()
        self.replies = {}
        self.next_id = 0
        self.pending = set()    # navigations started and not yet loaded
        self.navigations = 0    # navigations started so far
        self.closed = None
        self.socket = None
        self.log_reader = threading.Thread(target=self._read_log, daemon=True)
        self.log_reader.start()
        try:
            self._connect(width, height)
        except BaseException:
            self.quit()
            raise

    # The connection

    def _read_log(self):
        try:
            for line in self.process.stderr:
                with self.lock:
                    self.log = (self.log + [line.rstrip()])[-50:]
                    self.lock.notify_all()
        except (OSError, ValueError):
            pass

    def _connect(self, width, height):
        deadline = time.monotonic() + TIMEOUT
        port = None
        with self.lock:
            while port is None:
                found = [re.search(r"WebDriver BiDi listening on ws://127\.0\.0\.1:([0-9]+)", line) for line in self.log]
                port = next((match.group(1) for match in found if match), None)
                if port is None:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise WebDriverException("Firefox did not start WebDriver BiDi within 30 s:\n" + "\n".join(self.log))
                    self.lock.wait(0.2)
        # Firefox refuses a handshake with an Origin header.
        self.socket = websocket.create_connection(f"ws://127.0.0.1:{port}/session", timeout=TIMEOUT, suppress_origin=True)
        self.socket.settimeout(None)  # the reader blocks; the waits are bounded in command()
        threading.Thread(target=self._read_socket, daemon=True).start()
        self.command("session.new", {"capabilities": {"alwaysMatch": {"unhandledPromptBehavior": {"default": "dismiss"}}}})
        self.command("session.subscribe", {"events": ["browsingContext", "log.entryAdded"]})
        self.context = self.command("browsingContext.getTree", {"maxDepth": 0})["contexts"][0]["context"]
        self.set_window_size(width, height)

    def _read_socket(self):
        try:
            while True:
                message = json.loads(self.socket.recv())
                with self.lock:
                    if "id" in message:
                        self.replies[message["id"]] = message
                    else:
                        self._event(message.get("method"), message.get("params", {}))
                    self.lock.notify_all()
        except Exception as error:
            with self.lock:
                self.closed = f"connection to Firefox closed ({error!r})"
                self.lock.notify_all()

    def _event(self, method, params):
        if method == "log.entryAdded" and params.get("level") == "error":
            self.errors.append(params.get("text"))
        if params.get("context") != getattr(self, "context", None):
            return
        if method == "browsingContext.navigationStarted":
            self.pending.add(params.get("navigation"))
            self.navigations += 1
        elif method == "browsingContext.load":
            self.pending.clear()
        elif method in ("browsingContext.navigationFailed", "browsingContext.navigationAborted", "browsingContext.fragmentNavigated"):
            self.pending.discard(params.get("navigation"))

    def command(self, method, params, timeout=TIMEOUT):
        """Sends a command and waits (bounded) for its answer; a BiDi error raises."""
        with self.lock:
            if self.closed:
                raise WebDriverException(f"{method}: {self.closed}")
            self.next_id += 1
            number = self.next_id
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        with self.lock:
            while number not in self.replies:
                if self.closed:
                    raise WebDriverException(f"{method}: {self.closed}")
                if time.monotonic() > deadline:
                    raise TimeoutException(f"Firefox did not answer {method} within {timeout} s")
                self.lock.wait(0.2)
            reply = self.replies.pop(number)
        if reply.get("type") == "error":
            error, message = reply.get("error"), reply.get("message", "")
            if error in ("no such node", "stale element reference"):
                raise StaleElementReferenceException(
                    f"the element is no longer in the page (the page navigated or changed since it was found): {message}")
            raise WebDriverException(f"{method} failed: {error}: {message}")
        return reply["result"]

    def _wait_for_load(self, since=None, grace=0.0):
        """Waits for navigations under way to load; with grace, first up to grace seconds for
        a navigation started after `since` (the number of navigations before an input)."""
        started = time.monotonic()
        with self.lock:
            while grace and self.navigations == since and not self.pending and time.monotonic() - started < grace:
                self.lock.wait(0.05)
            deadline = time.monotonic() + TIMEOUT
            while self.pending and not self.closed:
                if time.monotonic() > deadline:
                    raise TimeoutException(f"the page did not finish loading within {TIMEOUT} s")
                self.lock.wait(0.2)

    def call(self, function, *arguments):
        """Calls a JavaScript function in the page, after any navigation under way; retries
        when a navigation took the page away while it ran."""
        for attempt in range(3):
            self._wait_for_load()
            before = self.navigations
            try:
                result = self.command("script.callFunction", {
                    "functionDeclaration": function, "arguments": [self._argument(a) for a in arguments],
                    "target": {"context": self.context}, "awaitPromise": True, "userActivation": True,
                    "serializationOptions": {"maxDomDepth": 0, "maxObjectDepth": 10}})
            except StaleElementReferenceException:
                raise
            except WebDriverException:
                if attempt < 2 and (self.pending or self.navigations != before):
                    continue
                raise
            if result["type"] == "exception":
                if attempt < 2 and (self.pending or self.navigations != before):
                    continue
                details = result["exceptionDetails"]
                text = details.get("text", "")
                if "SyntaxError" in text or "XPath" in text or "is not a valid" in text:
                    raise InvalidSelectorException(text)
                raise WebDriverException(f"JavaScript error: {text}")
            return self._value(result["result"])

    def _argument(self, value):
        if isinstance(value, Element):
            return {"sharedId": value.id}
        if value is None:
            return {"type": "null"}
        if isinstance(value, bool):
            return {"type": "boolean", "value": value}
        if isinstance(value, (int, float)):
            return {"type": "number", "value": value}
        if isinstance(value, str):
            return {"type": "string", "value": value}
        if isinstance(value, (list, tuple)):
            return {"type": "array", "value": [self._argument(v) for v in value]}
        raise TypeError(f"cannot pass {value!r} to the page")

    def _value(self, remote):
        kind, value = remote.get("type"), remote.get("value")
        if kind in ("undefined", "null"):
            return None
        if kind == "number" and isinstance(value, str):
            return float(value.replace("Infinity", "inf"))
        if kind in ("string", "number", "boolean", "bigint"):
            return value
        if kind in ("array", "nodelist", "htmlcollection", "set"):
            return [self._value(v) for v in value or []]
        if kind == "object":
            return {key if isinstance(key, str) else json.dumps(key): self._value(v) for key, v in value or []}
        if kind == "node":
            return Element(self, remote["sharedId"])
        return remote

    def _input(self, actions, element=None):
        before = self.navigations
        self._wait_for_load()
        self.command("input.performActions", {"context": self.context, "actions": actions})
        self._wait_for_load(since=before, grace=NAVIGATION_GRACE)

    # Selenium's WebDriver API, the part the console test uses

    def get(self, url):
        reply = self.command("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})
        with self.lock:
            self.pending.discard(reply.get("navigation"))
        self._wait_for_load()

    def find_elements(self, by, value, root=None):
        return self.call(FIND, by, value, root)

    def find_element(self, by, value, root=None):
        found = self.find_elements(by, value, root)
        if not found:
            raise NoSuchElementException(f"no element for {by} {value!r} in {self.current_url}")
        return found[0]

    def execute_script(self, script, *arguments):
        return self.call("function() {\n" + script + "\n}", *arguments)

    def save_screenshot(self, path):
        self._wait_for_load()
        data = self.command("browsingContext.captureScreenshot", {"context": self.context})["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))
        return True

    def set_window_size(self, width, height):
        self.command("browsingContext.setViewport", {"context": self.context, "viewport": {"width": width, "height": height}})

    @property
    def current_url(self):
        self._wait_for_load()
        return self.command("browsingContext.getTree", {"root": self.context, "maxDepth": 0})["contexts"][0]["url"]

    @property
    def page_source(self):
        return self.execute_script("return document.documentElement.outerHTML")

    def quit(self):
        if self.socket is not None:
            try:
                self.command("browser.close", {}, timeout=10)
            except WebDriverException:
                pass
            self.socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        # Its content processes share the log pipe: when it stays open, end them too.
        self.log_reader.join(timeout=5)
        if self.log_reader.is_alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.log_reader.join(timeout=5)
        self.process.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class Element:
    def __init__(self, driver, shared_id):
        self.driver, self.id = driver, shared_id

    def __eq__(self, other):
        return isinstance(other, Element) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<Firefox element {self.id}>"

    def _call(self, function, *arguments):
        return self.driver.call(function, self, *arguments)

    def find_elements(self, by, value):
        return self.driver.find_elements(by, value, self)

    def find_element(self, by, value):
        return self.driver.find_element(by, value, self)

    @property
    def text(self):
        return self._call("(e) => e.innerText")

    @property
    def tag_name(self):
        return self._call("(e) => e.tagName.toLowerCase()")

    def get_attribute(self, name):
        return self._call("""(e, name) => {
          if (["value", "checked", "selected"].includes(name) && name in e)
            return typeof e[name] === "boolean" ? (e[name] ? "true" : null) : String(e[name]);
          return e.getAttribute(name);
        }""", name)

    def click(self):
        # An option in a closed list has no box to click: select it, as WebDriver does.
        if self._call("""(e) => {
          if (e.localName !== "option") { e.scrollIntoView({block: "center", inline: "nearest"}); return false; }
          const list = e.closest("select");
          e.selected = true;
          if (list) { list.dispatchEvent(new Event("input", {bubbles: true})); list.dispatchEvent(new Event("change", {bubbles: true})); }
          return true;
        }"""):
            return
        self.driver._input([{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": {"sharedId": self.id}}},
            {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}])

    def send_keys(self, *values):
        text = "".join(str(value) for value in values)
        self._call("""(e) => {
          if (document.activeElement !== e) {
            e.focus();
            try { e.setSelectionRange(e.value.length, e.value.length); } catch (error) {}
          }
        }""")
        keys = []
        for character in text:
            key = KEYS.get(character, character)
            keys += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        self.driver._input([{"type": "key", "id": "keyboard", "actions": keys}])

    def clear(self):
        self._call("""(e) => {
          e.focus();
          if ("value" in e) e.value = ""; else if (e.isContentEditable) e.textContent = "";
          e.dispatchEvent(new Event("input", {bubbles: true}));
          e.dispatchEvent(new Event("change", {bubbles: true}));
          e.blur();
        }""")
