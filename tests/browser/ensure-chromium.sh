#!/bin/sh
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (tests/browser): installs the
# `chromium` package, its Russian interface (chromium-l10n: date fields read дд.мм.гггг, as for the district's
# staff) and a font with Cyrillic letters with apt-get when they are missing, as root or with sudo when sudo
# needs no password. Without apt-get, root or such sudo it says so and exits 0: the browser tests then skip,
# each saying why.
set -eu
CHROMIUM=/usr/bin/chromium
RUSSIAN=/usr/lib/chromium/locales/ru.pak
[ -x "$CHROMIUM" ] && [ -f "$RUSSIAN" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Нет $CHROMIUM (или его русского интерфейса) и нет apt-get: установите Chromium сами," \
    "иначе браузерные тесты будут пропущены." >&2
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "Нет $CHROMIUM (или его русского интерфейса), а ставить пакеты некому (нужен root или sudo без пароля)." \
    "Установите: sudo apt-get install chromium chromium-l10n fonts-dejavu-core — иначе браузерные тесты" \
    "будут пропущены." >&2
  exit 0
fi
echo "Ставлю Chromium для браузерных тестов: apt-get install chromium chromium-l10n fonts-dejavu-core" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  chromium chromium-l10n fonts-dejavu-core >/dev/null
test -x "$CHROMIUM"
