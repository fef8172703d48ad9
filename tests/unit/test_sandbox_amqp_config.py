"""The configuration the RabbitMQ and Artemis sandbox services write (pure rendering)."""

from __future__ import annotations

import pytest

from mqmigrate.sandbox.artemis import render_bootstrap_xml, render_broker_xml
from mqmigrate.sandbox.rabbitmq import render_config, render_enabled_plugins

_BROKER_XML = """<configuration><core>
      <acceptors>
         <acceptor name="artemis">tcp://0.0.0.0:61616?protocols=CORE,AMQP;useEpoll=true</acceptor>
         <acceptor name="amqp">tcp://0.0.0.0:5672?protocols=AMQP;useEpoll=true</acceptor>
         <acceptor name="stomp">tcp://0.0.0.0:61613?protocols=STOMP</acceptor>
      </acceptors>
</core></configuration>
"""

_BOOTSTRAP_XML = """<broker xmlns="http://activemq.apache.org/schema">
   <web path="web" rootRedirectLocation="console">
       <binding name="artemis" uri="http://localhost:8161">
           <app name="console" url="console" war="console.war"/>
       </binding>
   </web>
</broker>
"""


def test_rabbitmq_config_binds_loopback_on_the_given_ports():
    text = render_config(15999, 16999)
    lines = {
        line.split(" = ")[0]: line.split(" = ")[1] for line in text.splitlines() if " = " in line
    }
    assert lines["listeners.tcp.default"] == "127.0.0.1:15999"
    assert lines["management.tcp.ip"] == "127.0.0.1"
    assert lines["management.tcp.port"] == "16999"
    assert lines["default_user"] == "guest"


def test_enabled_plugins_is_one_erlang_list_term():
    assert render_enabled_plugins() == "[rabbitmq_management,rabbitmq_amqp1_0].\n"


def test_broker_xml_keeps_only_the_all_protocols_acceptor_on_the_given_port():
    rendered = render_broker_xml(_BROKER_XML, 62000)
    assert 'name="amqp"' not in rendered and 'name="stomp"' not in rendered
    assert "5672" not in rendered
    assert (
        '<acceptor name="artemis">tcp://127.0.0.1:62000?protocols=CORE,AMQP;useEpoll=true'
        "</acceptor>" in rendered
    )
    # idempotent: rendering a rendered file changes nothing
    assert render_broker_xml(rendered, 62000) == rendered


def test_broker_xml_without_the_artemis_acceptor_is_refused():
    with pytest.raises(ValueError, match="artemis"):
        render_broker_xml(_BROKER_XML.replace('name="artemis"', 'name="other"'), 62000)


def test_bootstrap_xml_moves_the_console_to_loopback_and_the_given_port():
    rendered = render_bootstrap_xml(_BOOTSTRAP_XML, 18161)
    assert '<binding name="artemis" uri="http://127.0.0.1:18161">' in rendered
    assert render_bootstrap_xml(rendered, 18161) == rendered
