"""The command line as a user meets it: help, versions, the ask contract."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import PROJECT, zhenggai
from tests.test_ledger import import_all


def test_help_lists_every_command_in_chinese() -> None:
    result = zhenggai("--help")
    assert result.code == 0
    for command in ("demo", "ask", "import", "export", "db", "misses", "alias", "history"):
        assert command in result.out
    assert "整改助手" in result.out


def test_import_help_names_the_formats() -> None:
    result = zhenggai("import", "--help")
    assert result.code == 0 and "regulations" in result.out and "measures" in result.out


def test_help_and_usage_errors_are_in_chinese_too() -> None:
    helped = zhenggai("misses", "--help")
    assert helped.code == 0 and helped.out.startswith("用法：zhenggai misses")
    assert "选项" in helped.out and "显示此帮助并退出" in helped.out and "options" not in helped.out
    for args, said in [
        (("import", "bogus", "x.csv"), "参数 kind 的值 'bogus' 无效，可选：'regulations', 'cadres', 'measures'"),
        (("import",), "缺少必需的参数：kind, file"),
        (("misses", "--limit", "abc"), "参数 --limit 应为整数，收到 'abc'"),
        (("ask", "--bogus"), "无法识别的参数：--bogus"),
    ]:
        result = zhenggai(*args)
        assert result.code == 2 and result.err.startswith("用法：") and f"错误：{said}" in result.err, result.err


def test_missing_file_is_a_one_line_error(db_url: str) -> None:
    result = zhenggai("import", "measures", "/nonexistent/台账.csv", database_url=db_url)
    assert result.code == 1 and "找不到文件" in result.err and "Traceback" not in result.err


def test_an_import_with_several_problems_lists_each_on_its_own_line(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    header = (Path(__file__).resolve().parent.parent / "data" / "measures.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "台账.csv"
    path.write_text(header.splitlines()[0] + "\nZG2025999,问题,措施,类别,基础教育科,张三,李四,2027-13-01,进行中,\n",
                    encoding="utf-8")
    result = zhenggai("import", "measures", str(path), database_url=db_url)
    assert result.code == 1
    assert result.err.splitlines() == [
        "错误：共 3 处错误，整个文件未导入（改正后重新导入）：",
        "  台账.csv 第2行 [owner]：未知的责任人「张三」（请先导入干部名单）",
        "  台账.csv 第2行 [leader]：未知的分管领导「李四」（请先导入干部名单）",
        "  台账.csv 第2行 [deadline]：不存在的日期「2027-13-01」",
    ]


def test_db_current_reports_latest(db_url: str) -> None:
    result = zhenggai("db", "current", database_url=db_url)
    assert result.code == 0 and "最新" in result.out


def test_ask_json_contract_for_one_and_many_questions(db_url: str) -> None:
    import_all(db_url)
    one = zhenggai("ask", "教師工作紀律", "--json", database_url=db_url)
    assert one.code == 0, one.err
    answer = json.loads(one.out)
    assert set(answer) >= {"query", "answered", "hits"}
    assert answer["answered"] is True
    assert answer["hits"][0]["kind"] == "regulation" and answer["hits"][0]["key"] == "teacher-work-discipline"
    assert set(answer["hits"][0]) == {"kind", "key", "no", "title", "score"}

    many = zhenggai("ask", "--json", database_url=db_url, stdin="ZG2025004 进展\n今天天气怎么样\n")
    lines = [json.loads(line) for line in many.out.splitlines()]
    assert [a["query"] for a in lines] == ["ZG2025004 进展", "今天天气怎么样"]
    assert lines[0]["answered"] and lines[0]["hits"][0] == {**lines[0]["hits"][0], "kind": "measure",
                                                            "key": "ZG2025004"}
    assert lines[1] == {"query": "今天天气怎么样", "answered": False, "hits": []}


def test_ask_on_an_empty_database_says_how_to_load_data(db_url: str) -> None:
    result = zhenggai("ask", "教师工作纪律", "--json", database_url=db_url)
    assert result.code == 0 and json.loads(result.out)["answered"] is False  # stdout stays JSON
    assert "zhenggai db seed" in result.err


def test_ask_as_someone_unknown_says_so(db_url: str) -> None:
    import_all(db_url)
    known = zhenggai("ask", "我的整改", "--as", "张伟", database_url=db_url)
    assert known.code == 0 and "找不到干部" not in known.err and "提示" not in known.err
    unknown = zhenggai("ask", "我的整改", "--as", "张三丰", database_url=db_url)
    assert unknown.code == 0 and "找不到干部「张三丰」" in unknown.err


def test_unanswered_questions_are_listed_by_misses(db_url: str) -> None:
    import_all(db_url)
    # An operator trying questions out records nothing; --record files them as staff questions are.
    zhenggai("ask", "股票怎么买才赚钱", database_url=db_url)
    zhenggai("ask", "火星探测器的燃料配比", "--record", database_url=db_url)
    zhenggai("ask", "火星探测器的燃料配比？", "--record", database_url=db_url)
    # Small talk is answered in kind and is nothing for an admin to teach the bot.
    chat = zhenggai("ask", "今天天气怎么样", "--record", database_url=db_url)
    assert chat.out.startswith("抱歉，这个问题不在我能回答的范围内")
    result = zhenggai("misses", "--json", database_url=db_url)
    misses = json.loads(result.out)
    assert len(misses) == 1 and misses[0]["query"].startswith("火星探测器") and misses[0]["count"] == 2


def test_cli_mistakes_with_files_and_pipes_get_a_sentence_not_a_traceback(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    missing = tmp_path / "nodir" / "out.csv"
    result = zhenggai("export", "measures", str(missing), database_url=db_url)
    assert result.code == 1 and result.err.strip() == f"错误：无法写入 {missing}：所在文件夹不存在"
    result = zhenggai("cadre", "invite", "--unbound", "--out", str(missing), database_url=db_url)
    assert result.code == 1 and "所在文件夹不存在" in result.err and "Traceback" not in result.err
    # `… | head -1`: the reader stops after one line while a megabyte of answers is still coming.
    questions = "请假超过三天要谁批\n" * 3000
    piped = subprocess.run(f"{sys.executable} -m bot ask --json | head -1", shell=True, capture_output=True,
                           text=True, cwd=PROJECT, env={**os.environ, "DATABASE_URL": db_url}, timeout=120,
                           input=questions, check=False)
    assert json.loads(piped.stdout)["answered"] is True
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr[-500:]
    by_chinese_numeral = zhenggai("alias", "add", "article", "bureau-work-rules", "第三条", "一把手外出要报备吗",
                                  database_url=db_url)
    assert by_chinese_numeral.code == 0, by_chinese_numeral.err


def test_a_reminder_rehearsal_says_who_cannot_be_reached(db_url: str) -> None:
    import_all(db_url)
    result = zhenggai("remind", "--dry-run", "--now", "2026-11-27T09:00+08:00", database_url=db_url)
    assert result.code == 0, result.err
    head, *items = result.out.splitlines()
    assert "其中新提醒" in head and "将发送" not in head
    listed = [line for line in items if line.startswith("  ")]
    assert listed and all(line.endswith("未绑定、无法送达）") for line in listed)  # nobody has bound yet
    assert "zhenggai cadre invite --unbound" in items[-1]


def test_history_prints_a_measures_trail_for_an_operator(db_url: str) -> None:
    import_all(db_url)
    result = zhenggai("history", "ZG2025009", database_url=db_url)
    assert result.code == 0, result.err
    head, entry = result.out.splitlines()
    assert head == "ZG2025009 办理记录（共 1 条）：" and entry.endswith("系统　台账导入（进行中）")
    as_json = json.loads(zhenggai("history", "ZG2025009", "--json", database_url=db_url).out)
    assert [e["action"] for e in as_json["events"]] == ["import"] and as_json["events"][0]["to"] == "in_progress"
    unknown = zhenggai("history", "ZG2025099", database_url=db_url)
    assert unknown.code == 1 and unknown.err.strip() == "错误：没有编号为 ZG2025099 的整改措施"


def test_an_alias_names_its_regulation_by_key_or_by_the_title_the_bot_cites(db_url: str) -> None:
    import_all(db_url)
    by_title = zhenggai("alias", "add", "article", "《市教育局工作规程》", "第3条", "一把手外出要报备吗",
                        database_url=db_url)
    assert by_title.code == 0 and "bureau-work-rules 第3条" in by_title.out, by_title.err
    by_key = zhenggai("alias", "add", "regulation", "finance-center", "报账规矩", database_url=db_url)
    assert by_key.code == 0, by_key.err
    listed = zhenggai("alias", "list", database_url=db_url).out
    assert "bureau-work-rules 第3条" in listed and "finance-center" in listed
    answer = json.loads(zhenggai("ask", "一把手外出要报备吗", "--json", database_url=db_url).out)
    assert answer["answered"] and (answer["hits"][0]["key"], answer["hits"][0]["no"]) == ("bureau-work-rules", 3)


def test_an_alias_for_a_regulation_we_do_not_have_names_the_closest_and_adds_nothing(db_url: str) -> None:
    import_all(db_url)
    result = zhenggai("alias", "add", "regulation", "局机关工作规则", "局里规矩", database_url=db_url)
    assert result.code == 1
    assert result.err.startswith("错误：没有 key 或标题为 局机关工作规则 的规章制度；最接近的："
                                 "bureau-work-rules（《市教育局工作规程》）、"), result.err
    # Part of the title, as staff say it, names the one regulation whose title contains it; a
    # part several titles share names none.
    shared = zhenggai("alias", "add", "regulation", "市教育局", "局里规矩", database_url=db_url)
    assert shared.code == 1 and "最接近的" in shared.err
    bad_number = zhenggai("alias", "add", "article", "bureau-work-rules", "某条", "说法", database_url=db_url)
    assert bad_number.code == 2 and "条号如 3、第3条 或 第三条" in bad_number.err
    assert zhenggai("alias", "list", database_url=db_url).out.strip() == ""


def test_demo_refuses_a_choice_it_does_not_know_instead_of_guessing(tmp_path: Path) -> None:
    # Piped input: the first line chooses the cadre. A question there is a mistake to point out,
    # not a reason to chat as 张伟 and drop the question.
    result = zhenggai("demo", database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
                      stdin="请假超过三天要谁批？\n逾期的有哪些\n")
    assert result.code == 1
    assert "没有编号或姓名为「请假超过三天要谁批？」的干部" in result.err and "--as" in result.err
    assert "Traceback" not in result.err and "机器人已在本地沙盒" not in result.out


def test_demo_chats_as_the_cadre_chosen_by_number_or_name(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    by_name = zhenggai("demo", database_url=url, stdin="黄志刚\n:quit\n")
    assert by_name.code == 0, by_name.err
    assert "你现在是用户「黄志刚」" in by_name.out
    listed = re.search(r"^\s*(\d+)\. 钟春兰（", by_name.out, re.MULTILINE)
    assert listed is not None, by_name.out
    by_number = zhenggai("demo", database_url=url, stdin=f"{listed.group(1)}\n:quit\n")
    assert by_number.code == 0, by_number.err
    assert "你现在是用户「钟春兰」" in by_number.out


def test_cadre_invite_unbound_writes_one_sheet_of_working_codes(db_url: str, tmp_path: Path) -> None:
    import_all(db_url)
    sheet = tmp_path / "codes.csv"
    result = zhenggai("cadre", "invite", "--unbound", "--out", str(sheet), "--bot-username", "gg_bot",
                      database_url=db_url)
    assert result.code == 0, result.err
    assert result.out.startswith("已为 22 名未绑定的干部生成邀请码，写入 ")
    lines = sheet.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "姓名,单位,职务,邀请码,链接,有效期至" and len(lines) == 23
    name, _, _, code, link, _ = lines[1].split(",")
    assert name == "黄志刚" and link == f"https://t.me/gg_bot?start={code}"
    listed = json.loads(zhenggai("cadre", "invite", "--unbound", "--json", "--bot-username", "gg_bot",
                                 database_url=db_url).out)
    assert len(listed) == 22 and listed[0]["name"] == "黄志刚" and listed[0]["code"] != code


def test_cadre_invite_needs_a_name_or_unbound_but_not_both(db_url: str) -> None:
    for args, says in ((("cadre", "invite"), "需要干部姓名，或 --unbound（二者选一）"),
                       (("cadre", "invite", "张伟", "--unbound"), "需要干部姓名，或 --unbound（二者选一）"),
                       (("cadre", "invite", "张伟", "--out", "x.csv"), "--out 只能与 --unbound 一起使用"),
                       (("cadre", "invite", "--unbound", "--out", "x.xlsx"), "--out 应为 .csv 文件（收到 x.xlsx）")):
        result = zhenggai(*args, database_url=db_url)
        assert result.code == 2 and says in result.err, result.err


async def test_a_token_telegram_rejects_is_one_line_that_never_shows_it(tmp_path: Path) -> None:
    from bot.sandbox import Sandbox
    from bot.sandbox.limits import RateLimits

    wrong = "654321:WRONG-TOKENxyz"  # too short for the token pattern: masked as the configured secret
    async with Sandbox(limits=RateLimits.off()) as sandbox:
        env = {"TELEGRAM_API_BASE_URL": sandbox.base_url.removesuffix("/bot"), "TELEGRAM_BOT_TOKEN": wrong,
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'z.db'}"}
        for log_format in ("text", "json"):
            result = await asyncio.to_thread(zhenggai, "remind", "--now", "2026-12-28T09:00+08:00",
                                             env={**env, "LOG_FORMAT": log_format})
            assert result.code == 2
            assert result.err.splitlines()[-1] == \
                "配置错误：TELEGRAM_BOT_TOKEN 被 Telegram 拒绝（令牌无效或已被吊销），请向 @BotFather 核对令牌"
            assert "WRONG-TOKEN" not in result.err + result.out


def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    url = "postgresql+asyncpg://zg:s3cretpw@127.0.0.1:9/zhenggai"  # port 9 (discard): nothing listens
    result = zhenggai("cadre", "list", database_url=url)
    assert result.code == 1
    assert result.err.strip() == ("错误：无法连接数据库（DATABASE_URL=postgresql+asyncpg://zg:***@127.0.0.1:9/zhenggai）："
                                  "连接被拒绝（数据库服务未运行或端口不对）")


def test_invite_links_made_without_a_token_say_they_name_the_demo_bot(db_url: str) -> None:
    import_all(db_url)
    result = zhenggai("cadre", "invite", "张伟", database_url=db_url)
    assert result.code == 0 and "t.me/zhenggai_demo_bot?start=" in result.out
    assert "链接中的机器人用户名 zhenggai_demo_bot 仅供演示" in result.err
    named = zhenggai("cadre", "invite", "张伟", "--bot-username", "gg_bot", database_url=db_url)
    assert "仅供演示" not in named.err


def test_a_downgrade_asks_for_yes_and_names_the_revisions_there_are(db_url: str) -> None:
    import_all(db_url)
    refused = zhenggai("db", "downgrade", "base", database_url=db_url)
    assert refused.code == 1 and "确认后加 --yes 重新运行" in refused.err and "清空整个数据库" in refused.err
    assert "张伟" in zhenggai("cadre", "list", database_url=db_url).out  # nothing was dropped
    unknown = zhenggai("db", "downgrade", "xyz", "--yes", database_url=db_url)
    assert unknown.code == 1 and "没有数据库版本「xyz」（可用：base、0001" in unknown.err
    assert "Traceback" not in refused.err + unknown.err


def test_run_checks_its_webhook_address_port_and_secret_before_starting() -> None:
    token = {"TELEGRAM_BOT_TOKEN": "123456789:" + "A" * 35}
    no_scheme = zhenggai("run", "--webhook-url", "bot.example.cn/telegram", env=token)
    assert no_scheme.code == 1 and "--webhook-url 应为 https:// 开头的公网地址" in no_scheme.err
    port = zhenggai("run", "--webhook-url", "https://bot.example.cn/t", "--port", "99999", env=token)
    assert port.code == 1 and "--port 应在 1 到 65535 之间（收到 99999）" in port.err
    secret = zhenggai("run", env={**token, "WEBHOOK_SECRET": "my secret!"})
    assert secret.code == 2 and "WEBHOOK_SECRET：只能包含字母、数字、下划线和连字符" in secret.err
    assert "my secret" not in secret.err


def test_an_empty_cadre_list_says_where_it_looked_and_what_to_do(db_url: str) -> None:
    result = zhenggai("cadre", "list", database_url=db_url)
    assert result.code == 0 and result.out == ""
    assert "干部名单为空（数据库：" in result.err and "zhenggai import cadres" in result.err


def test_an_alias_may_name_its_regulation_by_the_part_of_the_title_staff_use(db_url: str) -> None:
    import_all(db_url)
    result = zhenggai("alias", "add", "article", "教师工作纪律", "第3条", "上课能玩手机吗", database_url=db_url)
    assert result.code == 0 and "teacher-work-discipline 第3条" in result.out, result.err
