"""Serving the page: the queue limit, `serve` (background threads, for tests and benchmarks) and
`launch` (`assistant chat`: load the models, serve until Ctrl+C).

Load: at most QUEUE_MAX_SIZE events wait in Gradio's queue (besides the ones being processed); one
more is refused at once with HTTP 503 and BUSY_MESSAGE (the page shows Gradio's "This application is
currently busy. Please try again."), so a crowd gets a quick "try again" instead of a request that
hangs for minutes behind a single LLM.
"""

from __future__ import annotations

import os
import sys
import time

from ..config import Settings
from ..errors import AssistantError, InputError
from ..generate import Prompt
from ..readers.limits import MAX_FILE_BYTES
from ..pipeline import Pipeline, build
from .app import CSS, build_app, theme
from ..users import UsersFile, login_checker
from .auth import FAILED_LOGIN_DELAY_S, _login_checker, check_exposure, is_loopback
from .i18n import CHOICES
from .runtime import Runtime
from .viewer import install as install_viewer

QUEUE_MAX_SIZE = 16  # questions/uploads waiting for a worker; more are refused at once (busy)
# Said before a tab's language is known, so in both.
BUSY_MESSAGE = ("The assistant is busy answering other questions: try again in a moment. / "
                "De assistent beantwoordt andere vragen: probeer het zo opnieuw.")
LOGIN_MESSAGE = ("Log in with the user name and password the assistant was started with. / "
                 "Meld je aan met de gebruikersnaam en het wachtwoord waarmee de assistent is gestart.")
USERS_LOGIN_MESSAGE = ("Log in with your user name and password. / Meld je aan met je gebruikersnaam en wachtwoord.")


def _one_login(auth, users) -> None:
    if auth is not None and users is not None:
        raise InputError("--auth and --users both set the chat's logins: give one of them (--users FILE for "
                         "several accounts, --auth USER:PASSWORD for a single one)")


def warm_up(pipeline: Pipeline) -> None:
    """Load the embedder and the LLM now, so the first question is answered at full speed."""
    pipeline.assistant.search("warm up", 1)  # embedder + lexical index
    gen = pipeline.assistant.generator
    if gen is not None and not pipeline.settings.generation.base_url:
        for _ in gen.stream(Prompt("Reply with OK.", "OK?"), 1, 0.0):
            pass


def _busy_when_full(demo) -> None:
    """Refuse a join to a full queue with BUSY_MESSAGE instead of Gradio's "Queue is full. Max size
    is N and size is M." (HTTP 503 either way; API clients see the message, the page its own)."""
    q = getattr(demo, "_queue", None)
    push = getattr(q, "push", None)
    if push is None:
        return

    async def push_or_busy(*args, **kwargs):
        ok, detail, state = await push(*args, **kwargs)
        return (ok, BUSY_MESSAGE, state) if not ok and state == "queue_full" else (ok, detail, state)

    q.push = push_or_busy


def serve(runtime: Runtime, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
          *, auth: tuple[str, str] | None = None, no_auth: bool = False, queue_max_size: int | None = QUEUE_MAX_SIZE,
          lang: str = "auto", users: UsersFile | None = None):
    """Start the app in background threads; returns (demo, local URL). demo.close() stops it.
    With auth=(user, password) the page and its API need that login (see check_exposure).
    queue_max_size: events that may wait for a worker; one more is refused at once as busy.
    lang: the language a tab starts in ("nl", "en", or "auto": the browser's).
    users: a users file (users.py): one of its logins is required, each with its own conversations."""
    _one_login(auth, users)
    check_exposure(host, auth or users, no_auth)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build_app(runtime, lang)
    demo.queue(default_concurrency_limit=1, max_size=queue_max_size)
    _busy_when_full(demo)
    try:
        _, url, _ = demo.launch(
            server_name=host, server_port=port, inbrowser=open_browser, share=False, prevent_thread_lock=True,
            quiet=True, show_error=True, theme=theme(), css=CSS, footer_links=["api", "settings"],
            run_history=False, enable_monitoring=False, mcp_server=False, ssr_mode=False,
            max_file_size=MAX_FILE_BYTES,
            auth=_login_checker(*auth) if auth else (login_checker(users, FAILED_LOGIN_DELAY_S) if users else None),
            auth_message=LOGIN_MESSAGE if auth else (USERS_LOGIN_MESSAGE if users else None),
        )
    except OSError as e:
        raise AssistantError(f"cannot start the web server on {host}:{port} ({e}); try another --port") from e
    demo.runtime = runtime
    install_viewer(demo.app, runtime)  # "open the source": /viewer/..., behind the same login
    return demo, url


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
           *, warm: bool = True, auth: tuple[str, str] | None = None, no_auth: bool = False,
           queue_max_size: int | None = QUEUE_MAX_SIZE, lang: str = "auto", users: UsersFile | None = None) -> int:
    """`assistant chat`: load the models, start the app, print its local URL, serve until Ctrl+C."""
    _one_login(auth, users)
    check_exposure(host, auth or users, no_auth)  # before minutes of model loading
    if lang not in CHOICES:
        raise InputError(f"--lang {lang!r}: use one of {', '.join(CHOICES)}")
    if no_auth and not is_loopback(host):
        print(f"warning: serving on {host} without a login (--no-auth): anyone who can reach this machine "
              "can read the indexed documents and upload new ones", file=sys.stderr, flush=True)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    pipeline = build(settings, with_llm=True)
    if warm:
        print("loading the models (first start can take a minute)…", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        warm_up(pipeline)
        print(f"models ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    demo, url = serve(Runtime(settings, pipeline), host, port, open_browser, auth=auth, no_auth=no_auth,
                      queue_max_size=queue_max_size, lang=lang, users=users)
    login = (f", login required (user {auth[0]!r})" if auth else
             f", login required (users of {users.path})" if users else "")
    print(f"Assistant chat running on {url}{login}  (Ctrl+C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0
