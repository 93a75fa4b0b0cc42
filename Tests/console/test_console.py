"""The console in real browsers, against a real server and real profiles, through the
binaries: two visitors make a conflict with the CLI, the office settles it in the console,
and both visitors' CLIs hold the settlement after a sync; a carer fills in a care plan
offline; a refused record is shown and discarded. Each scenario runs in headless Chromium
through Selenium (chromedriver) and in headless Firefox through WebDriver BiDi, which
Firefox speaks itself (bidi_firefox.py next to this file: Selenium's API, no geckodriver).
Screenshots of each screen go to the folder printed at the start (Firefox's with a
`firefox-` prefix).

Run by scripts/console-test.sh (which installs Chromium, its driver, Firefox ESR and
Selenium when missing). $CHROMIUM, $CHROMEDRIVER and $FIREFOX name the browsers; without
Firefox the Firefox scenarios fail and say to install firefox-esr. Loopback only; every
wait is bounded."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the tree for bidi_firefox
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

import bidi_firefox

BIN = os.environ["VELD_BIN_DIR"]
VELD = os.path.join(BIN, "veld")
SERVER = os.path.join(BIN, "veld-server")
SHOTS = os.environ.get("VELD_SCREENSHOTS") or tempfile.mkdtemp(prefix="veld-console-shots-")


def run(args, stdin=None, env=None, check=True):
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done


def start(args, pattern, what):
    """Starts a process and waits (at most 30 s) for the line that says where it listens."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        found = re.search(pattern, line)
        if found:
            return process, found.group(0)
    process.kill()
    raise AssertionError(f"{what} did not say where it listens")


class Team:
    """A server, and a profile per person (with their own token)."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="veld-console-")
        self.db = os.path.join(self.folder, "server.sqlite")
        self.server, self.url = start([SERVER, "serve", "--db", self.db, "--port", "0", "--metrics-address", "off"],
                                      r"http://127\.0\.0\.1:[0-9]+", "veld-server")
        self.processes = [self.server]

    def person(self, name, role, scopes):
        home = os.path.join(self.folder, name)
        args = [SERVER, "token", "create", "--db", self.db, "--user", name, "--role", role]
        for scope in scopes:
            args += ["--scope", scope]
        token = run(args).stdout.strip()
        run([VELD, "init", "--home", home, "--user", name, "--server", self.url, "--token-file", "-"], stdin=token + "\n")
        return home

    def veld(self, home, *args, stdin=None):
        return run([VELD] + list(args) + ["--home", home], stdin=stdin)

    def console(self, home):
        process, url = start([VELD, "console", "--home", home, "--no-open"], r"http://127\.0\.0\.1:[0-9]+/[0-9a-f]{64}/", "veld console")
        self.processes.append(process)
        self.console_link = url
        return url

    def close(self):
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout:
                process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def chromium():
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=nl"]:
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


def firefox():
    binary = os.environ.get("FIREFOX") or shutil.which("firefox-esr") or shutil.which("firefox")
    if not binary or not os.access(binary, os.X_OK):
        raise AssertionError(f"no Firefox ({binary or 'firefox-esr not on PATH'}): install firefox-esr "
                             "(apt-get install firefox-esr; scripts/console-test.sh does) or set $FIREFOX")
    return bidi_firefox.Firefox(binary, width=1280, height=1000)


class ConsoleScenarios:
    """The scenarios; a subclass says which browser runs them."""
    prefix = ""

    def browser(self):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        print(f"{cls.__name__}: {time.monotonic() - cls.started:.1f} s", file=sys.stderr, flush=True)

    def setUp(self):
        self.team = Team()
        self.addCleanup(self.team.close)
        self.driver = self.browser()
        self.addCleanup(self.driver.quit)

    def shot(self, name):
        self.driver.execute_script("window.scrollTo(0, 0)")
        path = os.path.join(SHOTS, self.prefix + name + ".png")
        self.driver.save_screenshot(path)
        return path

    def test_the_office_settles_a_conflict_that_reaches_both_visitors(self):
        team = self.team
        anna = team.person("anna", "visitor", ["loc-zonnehof"])
        bram = team.person("bram", "visitor", ["loc-zonnehof"])
        office = team.person("olga", "office", ["*"])
        added = team.veld(anna, "visit", "add", "--location", "loc-zonnehof", "--kind", "werkbezoek", "--date", "2026-11-20",
                          "--summary", "Rondgang huiskamer", "--json")
        record = json.loads(added.stdout)["id"]
        team.veld(anna, "sync")
        team.veld(bram, "sync")
        # Both change the summary offline; a note with markup shows as text, never as markup.
        team.veld(anna, "edit", record, "summary=Rondgang huiskamer en tuin <script>alert(1)</script>")
        team.veld(bram, "edit", record, "summary=Rondgang keuken, koffie met bewoners")
        team.veld(anna, "sync")
        team.veld(bram, "sync")
        team.veld(office, "sync")

        driver = self.driver
        driver.get(team.console(office))
        wait = WebDriverWait(driver, 20)
        wait.until(EC.presence_of_element_located((By.ID, "conflicts")))
        self.assertEqual(driver.execute_script("return document.documentElement.lang"), "nl")
        rows = driver.find_elements(By.CSS_SELECTOR, "#conflicts tbody tr")
        self.assertEqual(len(rows), 1)
        self.assertIn("summary", rows[0].text)
        self.shot("1-inbox")

        rows[0].find_element(By.LINK_TEXT, "Openen").click()
        wait.until(EC.presence_of_element_located((By.ID, "field-summary")))
        values = driver.find_elements(By.CSS_SELECTOR, "#field-summary .value")
        self.assertEqual(len(values), 2)
        texts = [value.find_element(By.CSS_SELECTOR, "blockquote").text for value in values]
        self.assertIn("Rondgang huiskamer en tuin <script>alert(1)</script>", texts)
        self.assertEqual(driver.find_elements(By.XPATH, "//script[contains(., 'alert')]"), [])
        self.assertTrue(any("anna" in value.text for value in values) and any("bram" in value.text for value in values))
        self.shot("2-record-with-conflict")

        # Keep bram's value: the column that shows it.
        choice = next(i for i, text in enumerate(texts) if text.startswith("Rondgang keuken"))
        # With the keyboard alone: the button takes Enter as a click. (Headless Firefox's
        # window never has the focus, and there BiDi's key actions do not press a button;
        # Tab moves the focus there all the same, so Firefox clicks.)
        keep = driver.find_element(By.ID, f"keep-summary-{choice}")
        if self.keyboard_presses_buttons:
            keep.send_keys(Keys.ENTER)
        else:
            keep.click()
        try:
            wait.until(EC.presence_of_element_located((By.ID, "no-conflicts")))
        except Exception:
            self.shot("failed-after-choice")
            raise AssertionError("after the choice: " + driver.current_url + "\n" + driver.page_source[:3000])
        self.assertIn("Opgelost", driver.find_element(By.CSS_SELECTOR, ".flash").text)
        self.assertIn("1 wijziging", driver.find_element(By.ID, "pending").text)
        self.shot("3-inbox-resolved")

        driver.find_element(By.ID, "sync-button").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Gesynchroniseerd"))
        self.assertIn("Alles is gesynchroniseerd", driver.find_element(By.ID, "pending").text)
        self.shot("4-synced")

        for home in (anna, bram):
            team.veld(home, "sync")
            shown = json.loads(team.veld(home, "show", record, "--json").stdout)
            self.assertEqual(shown["fields"]["summary"], "Rondgang keuken, koffie met bewoners", shown)
            self.assertEqual(shown["conflicts"], {}, shown)

        # The office sees every device, from the server.
        driver.find_element(By.LINK_TEXT, "Apparaten").click()
        table = wait.until(EC.presence_of_element_located((By.ID, "devices")))
        self.assertTrue(all(name in table.text for name in ("anna", "bram", "olga")), table.text)
        self.shot("5-devices")

        # Who read or changed the record on the server (the access log, NEN 7513).
        driver.get(team.console_link + "records/" + record)
        driver.find_element(By.ID, "access-link").click()
        log = wait.until(EC.presence_of_element_located((By.ID, "access")))
        for words in ("anna", "bram", "olga", "versturen (sync)", "ophalen (sync)", "gewijzigd", "gelezen"):
            self.assertIn(words, log.text)
        self.assertNotIn("Rondgang", log.text, "the access log shows no field value")
        self.shot("5b-access-log")

        # Readable at 200% zoom (a 640-pixel-wide window): nothing runs off the side.
        driver.set_window_size(640, 1000)
        for path in ("/", "/records/" + record, "/devices", "/records/" + record + "/access"):
            driver.get(team.console_link + path.lstrip("/"))
            width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            self.assertLessEqual(width[0], width[1] + 1, path)
        driver.set_window_size(1280, 1000)
        driver.get(team.console_link)

        # English is there too.
        driver.find_element(By.LINK_TEXT, "English").click()
        wait.until(EC.presence_of_element_located((By.ID, "no-conflicts")))
        self.assertEqual(driver.execute_script("return document.documentElement.lang"), "en")
        self.assertIn("Everything is synced", driver.find_element(By.ID, "pending").text)


    def test_a_carer_fills_in_a_care_plan_offline_then_syncs(self):
        team = self.team
        carla = team.person("carla", "carer", ["loc-zonnehof"])
        office = team.person("olga", "office", ["*"])
        team.veld(carla, "sync")
        driver = self.driver
        wait = WebDriverWait(driver, 20)
        link = team.console(carla)
        # The server goes away: the form works all the same.
        port = re.search(r":([0-9]+)$", team.url).group(1)
        team.server.send_signal(signal.SIGTERM)
        team.server.wait(timeout=10)

        driver.get(link)
        driver.find_element(By.LINK_TEXT, "Nieuw").click()
        driver.find_element(By.LINK_TEXT, "careplan").click()
        wait.until(EC.presence_of_element_located((By.ID, "input-clientCode")))
        labels = driver.find_element(By.CSS_SELECTOR, "label[for=input-clientCode]").text
        self.assertIn("*", labels)
        self.assertEqual(driver.find_element(By.ID, "input-careStart").get_attribute("type"), "date")
        self.assertEqual(driver.find_element(By.ID, "input-status").tag_name, "select")
        self.assertEqual(driver.find_element(By.ID, "input-agreements").tag_name, "textarea")
        # A BSN where the pseudonymous code goes: the same words as the CLI's.
        driver.find_element(By.ID, "input-clientCode").send_keys("123456782")
        driver.execute_script("document.getElementById('input-careStart').value = '2026-10-01'")
        driver.find_element(By.CSS_SELECTOR, "#input-status option[value=concept]").click()
        driver.find_element(By.ID, "save").click()
        problems = wait.until(EC.presence_of_element_located((By.ID, "problems"))).text
        cli = run([VELD, "careplan", "add", "--location", "loc-zonnehof", "--client-code", "123456782", "--care-start", "2026-10-01",
                   "--home", carla], check=False)
        self.assertNotEqual(cli.returncode, 0)
        words = re.search(r"clientCode[^\n]*", cli.stderr).group(0).strip()
        self.assertIn(words, problems)
        self.shot("6-form-refused")

        field = driver.find_element(By.ID, "input-clientCode")
        field.clear()
        field.send_keys("ZH-0042")
        driver.find_element(By.ID, "input-agreements").send_keys("Dagelijks naar buiten,\nmet begeleiding.")
        driver.find_element(By.XPATH, "//input[@name='participants'][@value='cliënt']").click()
        driver.find_element(By.ID, "save").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Opgeslagen"))
        self.assertIn("1 wijziging", driver.find_element(By.ID, "pending").text)
        record = re.search(r"/records/([0-9a-f-]{36})", driver.current_url).group(1)
        self.shot("7-care-plan-saved-offline")

        # Sync while the server is down: the page says how it goes while it goes (it tries
        # again), then says plainly that it did not succeed; nothing lost.
        driver.find_element(By.ID, "sync-button").click()
        WebDriverWait(driver, 60).until(EC.text_to_be_present_in_element((By.ID, "sync-progress"), "nieuwe poging"))
        self.shot("7b-sync-retrying")
        WebDriverWait(driver, 60).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "lukte niet"))
        self.assertIn("1 wijziging", driver.find_element(By.ID, "pending").text)

        team.server, _ = start([SERVER, "serve", "--db", team.db, "--port", port, "--metrics-address", "off"],
                               r"http://127\.0\.0\.1:[0-9]+", "veld-server")
        team.processes.append(team.server)
        driver.find_element(By.ID, "sync-button").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Gesynchroniseerd"))
        self.assertIn("Alles is gesynchroniseerd", driver.find_element(By.ID, "pending").text)
        team.veld(office, "sync")
        shown = json.loads(team.veld(office, "show", record, "--json").stdout)
        self.assertEqual(shown["fields"]["clientCode"], "ZH-0042")
        self.assertEqual(shown["fields"]["agreements"], "Dagelijks naar buiten,\nmet begeleiding.")
        self.assertEqual(shown["fields"]["participants"], ["cliënt"])

    def test_a_refused_record_shows_and_is_discarded(self):
        team = self.team
        home = os.path.join(team.folder, "dirk")
        # Made offline, before the device knew its scopes: one note in a location the token lacks.
        run([VELD, "init", "--home", home, "--user", "dirk", "--role", "carer"])
        record = json.loads(team.veld(home, "visit", "add", "--location", "loc-de-linde", "--kind", "werkbezoek", "--date", "2026-11-20",
                                      "--summary", "Rondgang De Linde", "--json").stdout)["id"]
        token = run([SERVER, "token", "create", "--db", team.db, "--user", "dirk", "--role", "carer", "--scope", "loc-zonnehof"]).stdout.strip()
        team.veld(home, "connect", "--server", team.url, "--token-file", "-", stdin=token)
        self.assertEqual(run([VELD, "sync", "--home", home], check=False).returncode, 3)

        driver = self.driver
        wait = WebDriverWait(driver, 20)
        driver.get(team.console(home))
        self.assertIn("(1)", driver.find_element(By.ID, "nav-rejected").text)
        driver.find_element(By.ID, "nav-rejected").click()
        card = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "section.rejected")))
        self.assertIn("loc-de-linde", card.text)
        self.shot("8-rejected")
        card.find_element(By.CSS_SELECTOR, "button.danger").click()
        wait.until(EC.presence_of_element_located((By.ID, "nothing-rejected")))
        self.assertIn("Losgelaten", driver.find_element(By.CSS_SELECTOR, ".flash").text)
        self.assertEqual(json.loads(team.veld(home, "rejected", "--json").stdout), [])
        # It never reached the server, so it is gone here, and kept in the discarded log.
        self.assertIn(record, team.veld(home, "rejected", "--discarded").stdout)
        self.assertNotEqual(run([VELD, "show", record, "--home", home], check=False).returncode, 0)
        self.shot("9-discarded")


class ConsoleScenariosChromium(ConsoleScenarios, unittest.TestCase):
    keyboard_presses_buttons = True

    def browser(self):
        return chromium()


class ConsoleScenariosFirefox(ConsoleScenarios, unittest.TestCase):
    keyboard_presses_buttons = False
    prefix = "firefox-"

    def browser(self):
        return firefox()


if __name__ == "__main__":
    print(f"console screenshots: {SHOTS}", flush=True)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
